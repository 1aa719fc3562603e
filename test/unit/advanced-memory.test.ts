/** Advanced mode over the memory network and a virtual clock: the session wiring, fast. */
import { expect } from '@esm-bundle/chai';
import type { SignalingPlugin } from '../../src/api/plugin.js';
import type { InvitationUserStateChangedEvent } from '../../src/api/events.js';
import { PROTOCOL_VERSION } from '../../src/core/protocol.js';
import { World } from './world.js';
import { decodeMessage as decodeV2 } from '../fixtures/protocol-v2.js';

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

/** The latest state of each member, from the events one plugin heard. */
function roster(events: InvitationUserStateChangedEvent[]): Record<string, string> {
  const latest: Record<string, string> = {};
  for (const event of events) for (const user of event.users) latest[user.id] = user.state;
  return latest;
}

async function call(alice: SignalingPlugin, invitees: string[], timeout = 30): Promise<string> {
  const result = await alice.sendInvitation({ inviterName: 'A', invitees, timeout, type: 1, data: '', advancedMode: true });
  expect(result.error).to.equal(undefined);
  await world.clock.settle();
  return result.invitationID;
}

describe('advanced mode (memory network)', () => {
  it('creator, accept, add by a member, quit, join late, end: every member ends with the same roster', async () => {
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((id) => world.user(id)));
    const heard = [alice, bob, carol, dave].map((plugin) => world.record(plugin!.invitationUserStateChanged$));
    const ends = [alice, bob, carol, dave].map((plugin) => world.record(plugin!.invitationEnded$));
    const rings = world.record(bob!.invitationReceived$);
    const callID = await call(alice!, ['bob', 'carol']);
    expect(rings[0]?.callID).to.equal(callID);
    expect(roster(heard[0]!)).to.deep.equal({ alice: 'accepted', bob: 'received', carol: 'received' });
    expect((await bob!.acceptInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    // Bob (not the creator) rings Dave in.
    const added = await bob!.addInvitation({ invitationID: callID, invitees: ['dave', 'alice', 'bob'] });
    expect(added.error).to.equal(undefined);
    expect(added.errorInvitees).to.deep.equal({ alice: 'in-call', bob: 'self' });
    await world.clock.settle();
    await carol!.refuseInvitation({ invitationID: callID });
    await world.clock.settle();
    // Carol joins late after refusing; Dave joins by his ring's id.
    const joined = await carol!.joinInvitation({ invitationID: callID, data: 'late' });
    expect(joined.error).to.equal(undefined);
    expect((await dave!.joinInvitation({ invitationID: added.ringID })).invitationID).to.equal(callID);
    await world.clock.settle();
    for (const events of heard) expect(roster(events)).to.deep.equal({ alice: 'accepted', bob: 'accepted', carol: 'accepted', dave: 'accepted' });
    expect((await carol!.quitInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    for (const events of heard) expect(roster(events).carol).to.equal('quit');
    expect((await carol!.joinInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    expect((await dave!.endInvitation({ invitationID: callID, data: 'bye' })).error).to.equal(undefined);
    await world.clock.settle();
    for (const events of heard) expect(Object.values(roster(events))).to.deep.equal(['ended', 'ended', 'ended', 'ended']);
    for (const end of ends) expect(end).to.deep.equal([{ invitationID: callID, by: 'dave', data: 'bye' }]);
    const late = await bob!.joinInvitation({ invitationID: callID });
    expect(late.error?.code).to.equal('CALL_ENDED');
    expect((await alice!.addInvitation({ invitationID: callID, invitees: ['eve'] })).error?.code).to.equal('CALL_ENDED');
  });

  it("records addInvitation's ring in the adder's history, with its outcome", async () => {
    const [alice, bob, dave] = await Promise.all(['alice', 'bob', 'dave'].map((id) => world.user(id)));
    const callID = await call(alice!, ['bob']);
    expect((await bob!.acceptInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    const added = await bob!.addInvitation({ invitationID: callID, invitees: ['dave', 'alice'], timeout: 20, data: 'join us' });
    expect([added.error, added.type, added.timeout]).to.deep.equal([undefined, 1, 20]);
    await world.clock.settle();
    expect((await dave!.joinInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    const { invitations } = await bob!.listInvitations({ direction: 'outgoing' });
    const ring = invitations.find((record) => record.invitationID === added.ringID);
    expect(ring, 'the ring is an outgoing record').to.not.equal(undefined);
    expect([ring!.type, ring!.data, ring!.invitees]).to.deep.equal([1, 'join us', [{ id: 'dave', outcome: 'accepted' }]]);
  });

  it('join after the ring timed out; the last one to quit ends the call', async () => {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((id) => world.user(id)));
    const heard = world.record(alice!.invitationUserStateChanged$);
    const ends = world.record(bob!.invitationEnded$);
    const callID = await call(alice!, ['bob'], 5);
    await world.clock.advance(6000);
    expect(roster(heard).bob).to.equal('timeout');
    expect((await bob!.joinInvitation({ invitationID: callID })).users.map((user) => user.state)).to.deep.equal(['accepted', 'accepted']);
    await world.clock.settle();
    await alice!.quitInvitation({ invitationID: callID });
    await world.clock.settle();
    expect(ends).to.deep.equal([]);
    await bob!.quitInvitation({ invitationID: callID, data: 'last' });
    await world.clock.settle();
    expect(ends).to.deep.equal([{ invitationID: callID, by: 'bob', data: 'last' }]);
  });

  it('the last two quitting at once: one end, the same everywhere; the last ring running out ends it too', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((id) => world.user(id)));
    const ends = [alice, bob].map((plugin) => world.record(plugin!.invitationEnded$));
    const callID = await call(alice!, ['bob']);
    await bob!.acceptInvitation({ invitationID: callID });
    await world.clock.settle();
    await Promise.all([alice!.quitInvitation({ invitationID: callID }), bob!.quitInvitation({ invitationID: callID })]);
    await world.clock.settle();
    expect(ends[0]).to.have.length(1);
    expect(ends[1]).to.deep.equal(ends[0]);

    const carolEnds = world.record(carol!.invitationEnded$);
    const second = await call(alice!, ['carol'], 5);
    await alice!.quitInvitation({ invitationID: second });
    await world.clock.advance(6000);
    expect(carolEnds).to.deep.equal([{ invitationID: second, by: 'carol', data: '' }]);
  });

  it("a ring into a call refused unseen as busy shows the invitee's row refused; in a call, the invitee refuses other calls as busy", async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob', { refuseWhenBusy: true });
    const carol = await world.user('carol');
    const heard = world.record(alice.invitationUserStateChanged$);
    await bob.setBusy(true);
    const first = await call(alice, ['bob']);
    expect(roster(heard).bob).to.equal('refused');
    await bob.setBusy(false);
    await bob.joinInvitation({ invitationID: first });
    await world.clock.settle();
    expect(roster(heard).bob).to.equal('accepted');
    const refusals = world.record(carol.invitationRefused$);
    await carol.sendInvitation({ inviterName: 'C', invitees: ['bob'], timeout: 30, type: 0, data: '' });
    await world.clock.settle();
    expect(refusals.map((event) => event.reason)).to.deep.equal(['busy']);
    await bob.quitInvitation({ invitationID: first });
    await world.clock.settle();
    const rings = world.record(bob.invitationReceived$);
    await carol.sendInvitation({ inviterName: 'C', invitees: ['bob'], timeout: 30, type: 0, data: '' });
    await world.clock.settle();
    expect(rings).to.have.length(1);
  });

  it('a v2 peer rung into a call reads every frame it is sent as v2 (a basic invitation), and its answer counts as basic', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const old = await world.raw('old');
    const accepted = world.record(alice.invitationAccepted$);
    const callID = await call(alice, ['old', 'bob']);
    await bob.acceptInvitation({ invitationID: callID });
    await world.clock.settle();
    await old.send('alice', { v: 2, kind: 'ack', of: 'invite', invitationID: callID });
    await old.send('alice', { v: 2, kind: 'accept', invitationID: callID, data: '', remainingMs: 20_000 });
    await world.clock.settle();
    await bob.quitInvitation({ invitationID: callID });
    await world.clock.settle();
    // No call message ever went to the v2 peer: everything it got decodes as v2.
    expect(old.frames.map((frame) => decodeV2(frame)).filter((result) => !result.ok)).to.deep.equal([]);
    expect(accepted.map((event) => event.invitee)).to.deep.equal(['bob', 'old']);
  });

  it("a ring canceled with 8 KiB of data marks the row canceled without the data (a row's data is the member's own word)", async () => {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((id) => world.user(id, { limits: { violationsBeforeCooldown: 1 } })));
    const heard = world.record(bob!.invitationUserStateChanged$);
    const callID = await call(alice!, ['bob', 'carol']);
    expect((await alice!.cancelInvitation({ invitationID: callID, invitees: ['carol'], data: 'x'.repeat(8000) })).error).to.equal(undefined);
    await world.clock.settle();
    expect(heard.flatMap((event) => event.users).find((user) => user.id === 'carol' && user.state === 'canceled')).to.deep.equal({ id: 'carol', state: 'canceled', data: '' });
    expect(bob!.stats().bannedPeers).to.equal(0);
  });

  it('bad input is an InvitationError with a clear code', async () => {
    const alice = await world.user('alice');
    expect((await alice.joinInvitation({ invitationID: 'nope:x' })).error?.code).to.equal('NOT_FOUND');
    expect((await alice.quitInvitation(undefined as never)).error?.code).to.equal('INVALID_ARGUMENT');
    expect((await alice.sendInvitation({ inviterName: 'A', invitees: ['bob'], timeout: 5, type: 0, data: '', advancedMode: 'yes' as never })).error?.code).to.equal('INVALID_ARGUMENT');
    const callID = await call(alice, ['bob']);
    expect((await alice.endInvitation({ invitationID: callID, data: 'x'.repeat(3000) })).error?.code).to.equal('DATA_TOO_LARGE');
    expect((await alice.addInvitation({ invitationID: callID, invitees: ['bob'], timeout: -1 })).error?.code).to.equal('INVALID_ARGUMENT');
  });

  it('a forged state for another member is refused and reported', async () => {
    const alice = await world.user('alice', { limits: { violationsBeforeCooldown: 1 } });
    await world.user('bob');
    const callID = await call(alice, ['bob', 'mallory']);
    const heard = world.record(alice.invitationUserStateChanged$);
    const mallory = await world.raw('mallory');
    await mallory.send('alice', { v: PROTOCOL_VERSION, kind: 'call', invitationID: callID, seq: 1, rows: [{ id: 'bob', state: 'accepted', data: '', rev: 99 }], members: ['mallory'] });
    await world.clock.settle();
    expect(heard).to.deep.equal([]);
    // The one violation allowed cut Mallory off.
    expect(alice.stats().bannedPeers).to.equal(1);
  });
});
