/**
 * Issue #9 at the session level, over the memory network: invitations bound to
 * their inviter, per-peer limits refused on the wire, the app's shouldRing, and
 * peers that keep violating cut off. (End to end with the official PeerJS build
 * as the attacker: test/hostile.test.ts.)
 */
import { expect } from '@esm-bundle/chai';
import type { InvitationError } from '../../src/errors.js';
import { notificationText } from '../../src/session/notifications.js';
import { PROTOCOL_VERSION, type Message } from '../../src/core/protocol.js';
import type { SendInvitationParams } from '../../src/api/calls.js';
import type { InvitationReceivedEvent } from '../../src/api/events.js';
import { World } from './world.js';

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

const params = (invitees: string[], patch: Partial<SendInvitationParams> = {}): SendInvitationParams => ({
  inviterName: 'Alice',
  invitees,
  timeout: 30,
  type: 1,
  data: 'hi',
  ...patch,
});

const invite = (invitationID: string, patch: Record<string, unknown> = {}): Message =>
  ({ v: PROTOCOL_VERSION, kind: 'invite', invitationID, inviterName: 'Alice', type: 0, data: 'x', remainingMs: 20_000, ...patch }) as Message;

const cancel = (invitationID: string): Message => ({ v: PROTOCOL_VERSION, kind: 'cancel', invitationID, data: '', remainingMs: 20_000 });

const acks = (frames: unknown[]) => frames.filter((frame) => (frame as { kind?: string }).kind === 'ack');

describe('hostile peers (memory network): an invitation is bound to its inviter', () => {
  it("a co-invitee's cancel, sent first while the invitee is offline, does not block the real invitation", async () => {
    const alice = await world.user('alice');
    const mallory = await world.raw('mallory');
    const { invitationID } = await alice.sendInvitation(params(['bob', 'mallory']));
    await world.clock.settle();
    expect(invitationID.startsWith('alice:')).to.equal(true);
    // Bob comes online; Mallory reaches him first with a cancel, then with an invite in Alice's name.
    const bob = world.plugin();
    const rings: InvitationReceivedEvent[] = world.record(bob.invitationReceived$);
    const errors: InvitationError[] = world.record(bob.errors$);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await mallory.send('bob', cancel(invitationID));
    await mallory.send('bob', invite(invitationID, { inviterName: 'Alice', data: 'hijack' }));
    await world.clock.advance(DELIVERY_RETRY);
    expect(rings.map((ring) => [ring.inviter.id, ring.data])).to.deep.equal([['alice', 'hi']]);
    expect(errors.map((error) => error.code)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(acks(mallory.frames)).to.deep.equal([]);
    const accepted = world.record(alice.invitationAccepted$);
    expect((await bob.acceptInvitation({ invitationID })).error).to.equal(undefined);
    await world.clock.settle();
    expect(accepted.map((event) => event.invitee)).to.deep.equal(['bob']);
  });

  it('two inviters whose generators collide do not disturb each other', async () => {
    const alice = await world.user('alice', { createInvitationID: () => 'same' });
    const carol = await world.user('carol', { createInvitationID: () => 'same' });
    const bob = await world.user('bob');
    const rings = world.record(bob.invitationReceived$);
    const fromAlice = await alice.sendInvitation(params(['bob']));
    const fromCarol = await carol.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect([fromAlice.invitationID, fromCarol.invitationID]).to.deep.equal(['alice:same', 'carol:same']);
    expect(rings.map((ring) => ring.inviter.id)).to.deep.equal(['alice', 'carol']);
    const aliceHears = world.record(alice.invitationRefused$);
    const carolHears = world.record(carol.invitationAccepted$);
    await bob.acceptInvitation({ invitationID: 'carol:same' });
    await bob.refuseInvitation({ invitationID: 'alice:same' });
    await world.clock.settle();
    expect(aliceHears.map((event) => event.invitationID)).to.deep.equal(['alice:same']);
    expect(carolHears.map((event) => event.invitationID)).to.deep.equal(['carol:same']);
  });
});

describe('hostile peers (memory network): limits refused on the wire', () => {
  it('rings at most maxLiveInvitationsPerInviter from one inviter; the rest are refused busy and the inviter hears why', async () => {
    const bob = await world.user('bob', { limits: { maxLiveInvitationsPerInviter: 2 } });
    const alice = await world.user('alice');
    const rings = world.record(bob.invitationReceived$);
    const refused = world.record(alice.invitationRefused$);
    const states = world.record(alice.inviteeStateChanged$);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await alice.sendInvitation(params(['bob']))).invitationID);
    await world.clock.settle();
    expect(rings.map((ring) => ring.invitationID)).to.deep.equal(ids.slice(0, 2));
    expect(refused).to.deep.equal([{ invitationID: ids[2], invitee: 'bob', data: '', reason: 'overloaded' }]);
    expect(states.filter((event) => event.invitationID === ids[2]).map((event) => event.state)).to.deep.equal(['queued', 'refused']);
    expect(bob.stats().invitations).to.equal(2);
    // Nothing more is sent for the refused invitation.
    await world.clock.advance(10_000);
    expect(world.network.sent.filter((sent) => sent.from === 'alice' && (sent.frame as { invitationID?: string }).invitationID === ids[2])).to.have.length(1);
  });

  it('a flood from one peer rings a bounded number of times, is stored within limits, reported once, and then cut off', async () => {
    const bob = await world.user('bob');
    const errors: InvitationError[] = world.record(bob.errors$);
    const rings = world.record(bob.invitationReceived$);
    const mallory = await world.raw('mallory');
    // Once cut off, Mallory cannot even connect: count what got through.
    let refusedConnections = 0;
    const send = (message: Message) => mallory.send('bob', message).catch(() => void refusedConnections++);
    for (let i = 0; i < 300; i++) await send(invite(`mallory:${i}`, { data: 'x'.repeat(8000) }));
    for (let i = 0; i < 300; i++) await send(cancel(`mallory:c${i}`));
    await world.clock.settle();
    expect(refusedConnections).to.be.greaterThan(500);
    expect(rings).to.have.length(5);
    expect(bob.stats().invitations).to.equal(5);
    expect(errors.map((error) => error.code)).to.deep.equal(['PROTOCOL_VIOLATION']);
    // Cut off: later frames are ignored, and an honest peer still rings.
    const framesBefore = mallory.frames.length;
    await send(invite('mallory:late'));
    const carol = await world.user('carol');
    await carol.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(mallory.frames.length).to.equal(framesBefore);
    expect(rings.map((ring) => ring.inviter.id)).to.deep.equal(['mallory', 'mallory', 'mallory', 'mallory', 'mallory', 'carol']);
  });

  it('remembers at most maxUnknownCancelsPerPeer cancels for invitations not seen', async () => {
    const bob = await world.user('bob', { limits: { maxUnknownCancelsPerPeer: 3, violationsBeforeCooldown: 100 } });
    const mallory = await world.raw('mallory');
    for (let i = 0; i < 10; i++) await mallory.send('bob', cancel(`mallory:${i}`));
    await world.clock.settle();
    expect(bob.stats().invitations).to.equal(3);
    expect(acks(mallory.frames)).to.have.length(10);
  });

  it('refuses what would go over maxStoredInvitations and maxStoredBytes', async () => {
    const bob = await world.user('bob', { limits: { maxStoredInvitations: 3, maxStoredBytes: 10_000 } });
    const inviters = await Promise.all(['a1', 'a2', 'a3', 'a4'].map((id) => world.user(id)));
    const refused = inviters.map((inviter) => world.record(inviter.invitationRefused$));
    for (const inviter of inviters.slice(0, 2)) await inviter.sendInvitation(params(['bob'], { data: 'y'.repeat(4000) }));
    await world.clock.settle();
    // The third would pass 10,000 bytes; the fourth is small but the third slot is still free.
    await inviters[2]!.sendInvitation(params(['bob'], { data: 'y'.repeat(4000) }));
    await inviters[3]!.sendInvitation(params(['bob'], { data: '' }));
    await world.clock.settle();
    expect(refused.map((events) => events.map((event) => event.reason))).to.deep.equal([[], [], ['overloaded'], []]);
    expect(bob.stats().invitations).to.equal(3);
  });
});

describe('hostile peers (memory network): the app decides who may ring', () => {
  it('shouldRing false refuses on the wire as blocked, before anything is stored, announced or notified', async () => {
    const notified: unknown[] = [];
    const asked: InvitationReceivedEvent[] = [];
    const bob = await world.user('bob', {
      shouldRing: async (invitation) => {
        asked.push(invitation);
        return invitation.inviter.id !== 'mallory';
      },
      notify: (request) => void notified.push(request),
      notifyWhenAppIsInTheBackgroundOrQuit: true,
    });
    const rings = world.record(bob.invitationReceived$);
    const mallory = await world.user('mallory', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const alice = await world.user('alice');
    const refused = world.record(mallory.invitationRefused$);
    const notificationConfig = { notifyWhenAppIsInTheBackgroundOrQuit: true, title: 'Your bank is calling' };
    const blocked = await mallory.sendInvitation(params(['bob'], { notificationConfig }));
    await alice.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(asked.map((invitation) => invitation.inviter.id)).to.deep.equal(['mallory', 'alice']);
    expect(rings.map((ring) => ring.inviter.id)).to.deep.equal(['alice']);
    expect(refused).to.deep.equal([{ invitationID: blocked.invitationID, invitee: 'bob', data: '', reason: 'blocked' }]);
    expect(notified).to.deep.equal([]);
    expect(bob.stats().invitations).to.equal(1);
    // Mallory's retry (say her ack was lost) is refused alike, without asking the app again.
    await world.clock.advance(10_000);
    expect(asked).to.have.length(2);
  });

  it('a shouldRing that throws is reported and the invitation rings', async () => {
    const bob = await world.user('bob', {
      shouldRing: () => {
        throw new Error('contacts service down');
      },
    });
    const errors: InvitationError[] = world.record(bob.errors$);
    const rings = world.record(bob.invitationReceived$);
    const alice = await world.user('alice');
    await alice.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(rings).to.have.length(1);
    expect(errors.map((error) => error.code)).to.deep.equal(['APP_CALLBACK_FAILED']);
  });
});

describe('hostile peers: no forged alarms', () => {
  it('the default notification title names the verified inviter id first, whatever the display name says', () => {
    const request = { invitationID: 'mallory:1', type: 0, data: '' };
    expect(notificationText({ ...request, inviter: { id: 'mallory', name: 'Your bank' }, title: 'Your bank is calling' })).to.deep.equal({
      title: 'mallory (Your bank) is calling',
      body: 'Your bank is calling',
    });
    expect(notificationText({ ...request, inviter: { id: 'alice', name: 'alice' } }).title).to.equal('alice is calling');
    expect(notificationText({ ...request, inviter: { id: 'alice', name: ' ' } }).title).to.equal('alice is calling');
  });
});

/** Long enough for one delivery retry round. */
const DELIVERY_RETRY = 5000;
