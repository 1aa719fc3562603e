/**
 * Busy (`refuseWhenBusy`, `setBusy`) and protocol v3's own refusal reason for
 * a plugin over its limits, over the memory network; and v2 <-> v3 basic-mode
 * interop against a frozen copy of the v2 wire format (test/fixtures/protocol-v2.ts).
 */
import { expect } from '@esm-bundle/chai';
import type { SendInvitationParams } from '../../src/api/calls.js';
import { decodeMessage as decodeV2 } from '../fixtures/protocol-v2.js';
import { World } from './world.js';

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

const params = (invitees: string[], patch: Partial<SendInvitationParams> = {}): SendInvitationParams => ({ inviterName: 'Alice', invitees, timeout: 30, type: 0, data: '', ...patch });

describe('busy', () => {
  it('refuses on the wire without ringing while busy, as busy; rings again once not busy', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob', { refuseWhenBusy: true });
    const rang = world.record(bob.invitationReceived$);
    const refused = world.record(alice.invitationRefused$);
    await bob.setBusy(true);
    const { invitationID } = await alice.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(refused).to.deep.equal([{ invitationID, invitee: 'bob', data: '', reason: 'busy' }]);
    expect(rang).to.deep.equal([]);

    await bob.setBusy(false);
    const again = await alice.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(rang.map((event) => event.invitationID)).to.deep.equal([again.invitationID]);
    expect(refused).to.have.length(1);
  });

  it('changes nothing without refuseWhenBusy, and asks the app only when not busy', async () => {
    const alice = await world.user('alice');
    const asked: string[] = [];
    const carol = await world.user('carol');
    const dave = await world.user('dave', { refuseWhenBusy: true, shouldRing: (event) => (asked.push(event.invitationID), true) });
    const rang = world.record(carol.invitationReceived$);
    await carol.setBusy(true);
    await dave.setBusy(true);
    const first = await alice.sendInvitation(params(['carol', 'dave']));
    await world.clock.settle();
    expect(rang.map((event) => event.invitationID)).to.deep.equal([first.invitationID]);
    expect(asked).to.deep.equal([]);
    await dave.setBusy(false);
    const second = await alice.sendInvitation(params(['dave']));
    await world.clock.settle();
    expect(asked).to.deep.equal([second.invitationID]);
  });

  it('says overloaded, not busy, to a v3 inviter when over a limit', async () => {
    const alice = await world.user('alice');
    await world.user('bob', { limits: { maxLiveInvitationsPerInviter: 1 } });
    const refused = world.record(alice.invitationRefused$);
    await alice.sendInvitation(params(['bob']));
    const { invitationID } = await alice.sendInvitation(params(['bob']));
    await world.clock.settle();
    expect(refused).to.deep.equal([{ invitationID, invitee: 'bob', data: '', reason: 'overloaded' }]);
  });
});

describe('v2 <-> v3 basic mode', () => {
  it('a v2 inviter rings a v3 invitee, gets its answer, and is told busy (not overloaded) when over a limit', async () => {
    const old = await world.raw('old');
    const bob = await world.user('bob', { limits: { maxLiveInvitationsPerInviter: 1 } });
    const rang = world.record(bob.invitationReceived$);
    const invite = (suffix: string) => ({ v: 2 as const, kind: 'invite' as const, invitationID: `old:${suffix}`, inviterName: 'Old', type: 0, data: 'v2', remainingMs: 30_000 });
    await old.send('bob', invite('1'));
    await world.clock.settle();
    expect(rang.map((event) => event.invitationID)).to.deep.equal(['old:1']);
    await old.send('bob', invite('2'));
    await world.clock.settle();
    await bob.acceptInvitation({ invitationID: 'old:1', data: 'yes' });
    await world.clock.settle();

    const toOld = world.network.sent.filter((sent) => sent.to === 'old').map((sent) => sent.frame);
    const decoded = toOld.map((frame) => decodeV2(frame));
    expect(decoded.filter((result) => !result.ok)).to.deep.equal([]);
    const messages = decoded.map((result) => (result as unknown as { message: Record<string, unknown> }).message);
    expect(messages).to.deep.include({ v: 2, kind: 'ack', of: 'invite', invitationID: 'old:2', refused: 'busy' });
    expect(messages).to.deep.include({ v: 2, kind: 'accept', invitationID: 'old:1', data: 'yes', remainingMs: (messages.find((m) => m['kind'] === 'accept') as { remainingMs: number }).remainingMs });
  });

  it('a v3 inviter rings a v2 invitee with frames v2 reads, and takes its answer', async () => {
    const alice = await world.user('alice');
    const old = await world.raw('old');
    const accepted = world.record(alice.invitationAccepted$);
    const { invitationID } = await alice.sendInvitation(params(['old'], { data: 'to v2' }));
    await world.clock.settle();
    const frames = old.frames.map((frame) => decodeV2(frame));
    expect(frames.filter((result) => !result.ok)).to.deep.equal([]);
    const inviteFrame = frames.map((result) => (result as unknown as { message: Record<string, unknown> }).message).find((message) => message['kind'] === 'invite');
    expect(inviteFrame).to.deep.include({ v: 2, kind: 'invite', invitationID, data: 'to v2' });
    await old.send('alice', { v: 2, kind: 'ack', of: 'invite', invitationID });
    await old.send('alice', { v: 2, kind: 'accept', invitationID, data: 'from v2', remainingMs: 20_000 });
    await world.clock.settle();
    expect(accepted).to.deep.equal([{ invitationID, invitee: 'old', data: 'from v2' }]);
  });
});
