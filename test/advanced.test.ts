/**
 * Advanced mode (issue #20) between real plugins: real PeerServer, real data channels, real
 * IndexedDB. Three and four users add, join late, quit and end; a member offline during the end
 * learns it when it is back; crossed messages converge; a forged row is refused; and a live
 * call makes the user busy in every tab.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPlugin } from '../src/api/plugin.js';
import type { InvitationEndedEvent, InvitationUserStateChangedEvent } from '../src/api/events.js';
import { PROTOCOL_VERSION } from '../src/core/protocol.js';
import { BROWSER, Harness, next, pageCommand as page, peerPageHas as hasEvent, record, uniqueId, waitUntil } from './helpers.js';

type Roster = Record<string, string>;

/** What one plugin was told of each call: the latest state of each member, and the ends. */
class Heard {
  readonly rosters = new Map<string, Roster>();
  readonly ends: InvitationEndedEvent[] = [];
  constructor(plugin: SignalingPlugin) {
    plugin.invitationUserStateChanged$.subscribe((event: InvitationUserStateChangedEvent) => {
      const roster = this.rosters.get(event.invitationID) ?? {};
      for (const user of event.users) roster[user.id] = user.state;
      this.rosters.set(event.invitationID, roster);
    });
    plugin.invitationEnded$.subscribe((event) => this.ends.push(event));
  }

  of(callID: string): Roster {
    return { ...this.rosters.get(callID) };
  }
}

function sameRoster(a: Roster, b: Roster): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

async function everyoneSees(heard: Heard[], callID: string, expected: Roster, what: string): Promise<void> {
  await waitUntil(() => heard.every((one) => sameRoster(one.of(callID), expected)), `${what}: ${JSON.stringify(expected)} (seen: ${JSON.stringify(heard.map((one) => one.of(callID)))})`, 20_000);
}

function ok<T extends { error?: { code: string; message: string } | undefined }>(result: T): T {
  if (result.error) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result;
}

describe('advanced mode', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function users(count: number, prefix = 'u') {
    const made = [];
    for (let i = 0; i < count; i++) {
      const user = await harness.user(`${prefix}${i}`);
      harness.track(`${user.databaseName}:history`);
      made.push({ ...user, heard: new Heard(user.plugin) });
    }
    return made;
  }

  async function startCall(creator: SignalingPlugin, invitees: string[], timeout = 30): Promise<string> {
    return ok(await creator.sendInvitation({ inviterName: 'creator', invitees, timeout, type: 1, data: 'call', advancedMode: true })).invitationID;
  }

  it('four users: add by the creator and by a member, join late after a timeout, a refusal and a quit, then end', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const everyone = [alice!, bob!, carol!, dave!];
    const heard = everyone.map((user) => user.heard);
    const bobRings = record(bob!.plugin.invitationReceived$);
    const callID = await startCall(alice!.plugin, [bob!.id, carol!.id]);
    await waitUntil(() => bobRings.values.length === 1, 'the ring reaches Bob');
    expect(bobRings.values[0]!.callID).to.equal(callID);
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [bob!.id]: 'received', [carol!.id]: 'received' }, 'both rings arrive');

    ok(await bob!.plugin.acceptInvitation({ invitationID: callID }));
    ok(await carol!.plugin.refuseInvitation({ invitationID: callID, data: 'not now' }));
    // Bob, who did not create the call, rings Dave in with a short ring that runs out.
    const added = ok(await bob!.plugin.addInvitation({ invitationID: callID, invitees: [dave!.id, alice!.id], timeout: 1 }));
    expect(added.invitationID).to.equal(callID);
    expect(added.ringID.startsWith(`${bob!.id}:`)).to.equal(true);
    expect(added.errorInvitees).to.deep.equal({ [alice!.id]: 'in-call' });
    const four = { [alice!.id]: 'accepted', [bob!.id]: 'accepted', [carol!.id]: 'refused', [dave!.id]: 'timeout' };
    await everyoneSees(heard.filter((_, i) => i !== 3), callID, four, 'Carol refused, Dave timed out');

    // Late joins: Dave after his ring timed out (by its ring id), Carol after refusing.
    const daveJoined = ok(await dave!.plugin.joinInvitation({ invitationID: added.ringID, data: 'late' }));
    expect(daveJoined.invitationID).to.equal(callID);
    expect(daveJoined.users.find((user) => user.id === dave!.id)).to.deep.equal({ id: dave!.id, state: 'accepted', data: 'late' });
    ok(await carol!.plugin.joinInvitation({ invitationID: callID }));
    const allIn = { [alice!.id]: 'accepted', [bob!.id]: 'accepted', [carol!.id]: 'accepted', [dave!.id]: 'accepted' };
    await everyoneSees(heard, callID, allIn, 'everyone joined');

    // Carol quits and joins again; Alice (the creator) rings Eve into the call too.
    ok(await carol!.plugin.quitInvitation({ invitationID: callID }));
    await everyoneSees(heard, callID, { ...allIn, [carol!.id]: 'quit' }, 'Carol quit');
    ok(await carol!.plugin.joinInvitation({ invitationID: callID }));
    await everyoneSees(heard, callID, allIn, 'Carol is back');

    const [eve] = await users(1, 'eve');
    const eveRings = record(eve!.plugin.invitationReceived$);
    ok(await alice!.plugin.addInvitation({ invitationID: callID, invitees: [eve!.id] }));
    await waitUntil(() => eveRings.values.length === 1, 'the ring reaches Eve');
    await everyoneSees([...heard, eve!.heard], callID, { ...allIn, [eve!.id]: 'received' }, 'Eve rings');

    const eveCanceled = next(eve!.plugin.invitationCanceled$);
    ok(await dave!.plugin.endInvitation({ invitationID: callID, data: 'bye' }));
    const ended = { ...Object.fromEntries(Object.keys(allIn).map((id) => [id, 'ended'])), [eve!.id]: 'ended' };
    await everyoneSees([...heard, eve!.heard], callID, ended, 'the end reaches everyone');
    for (const one of [...heard, eve!.heard]) expect(one.ends).to.deep.equal([{ invitationID: callID, by: dave!.id, data: 'bye' }]);
    // Alice's ring of Eve stops ringing once the call is over.
    expect((await eveCanceled).invitationID).to.equal(eveRings.values[0]!.invitationID);
    expect((await eve!.plugin.joinInvitation({ invitationID: callID })).error?.code).to.equal('CALL_ENDED');
    expect((await bob!.plugin.addInvitation({ invitationID: callID, invitees: [eve!.id] })).error?.code).to.equal('CALL_ENDED');
    expect((await bob!.plugin.quitInvitation({ invitationID: callID })).error?.code).to.equal('CALL_ENDED');
  });

  it('a member offline during the end learns it when it connects again', async () => {
    const [alice, bob, carol] = await users(3);
    const callID = await startCall(alice!.plugin, [bob!.id, carol!.id]);
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [bob!.id]: 'received', [carol!.id]: 'received' }, 'rings arrive');
    ok(await bob!.plugin.acceptInvitation({ invitationID: callID }));
    ok(await carol!.plugin.acceptInvitation({ invitationID: callID }));
    const allIn = { [alice!.id]: 'accepted', [bob!.id]: 'accepted', [carol!.id]: 'accepted' };
    await everyoneSees([alice!.heard, bob!.heard, carol!.heard], callID, allIn, 'all in');

    await carol!.plugin.disconnectUser();
    ok(await alice!.plugin.endInvitation({ invitationID: callID, data: 'done' }));
    await everyoneSees([alice!.heard, bob!.heard], callID, { [alice!.id]: 'ended', [bob!.id]: 'ended', [carol!.id]: 'ended' }, 'the end, while Carol is away');
    expect(carol!.heard.ends).to.deep.equal([]);

    const told = next(carol!.plugin.invitationEnded$, () => true, 30_000);
    await carol!.plugin.connectUser({ id: carol!.id, name: 'carol' });
    expect(await told).to.deep.equal({ invitationID: callID, by: alice!.id, data: 'done' });
  });

  it('crossed messages converge: a join against an end, a quit against an add', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const heard = [alice!, bob!, carol!].map((user) => user.heard);
    const callID = await startCall(alice!.plugin, [bob!.id, carol!.id]);
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [bob!.id]: 'received', [carol!.id]: 'received' }, 'rings arrive');
    ok(await bob!.plugin.acceptInvitation({ invitationID: callID }));
    ok(await carol!.plugin.refuseInvitation({ invitationID: callID }));
    await everyoneSees(heard, callID, { [alice!.id]: 'accepted', [bob!.id]: 'accepted', [carol!.id]: 'refused' }, 'Bob in, Carol refused');

    // Bob adds Dave while Alice quits: both go out before either hears of the other.
    const [add, quit] = await Promise.all([bob!.plugin.addInvitation({ invitationID: callID, invitees: [dave!.id] }), alice!.plugin.quitInvitation({ invitationID: callID })]);
    ok(add);
    ok(quit);
    const afterAdd = { [alice!.id]: 'quit', [bob!.id]: 'accepted', [carol!.id]: 'refused', [dave!.id]: 'received' };
    await everyoneSees([...heard, dave!.heard], callID, afterAdd, 'the add and the quit, everywhere');

    // Carol joins while Bob ends: the end wins everywhere, whichever arrives first.
    const [join, end] = await Promise.all([carol!.plugin.joinInvitation({ invitationID: callID }), bob!.plugin.endInvitation({ invitationID: callID })]);
    ok(join);
    ok(end);
    await everyoneSees([...heard, dave!.heard], callID, Object.fromEntries(Object.keys(afterAdd).map((id) => [id, 'ended'])), 'the end wins');
    for (const one of [...heard, dave!.heard]) expect(one.ends.map((event) => event.by)).to.deep.equal([bob!.id]);
  });

  it('a forged state for another member, sent over a raw PeerJS connection, is refused and reported', async () => {
    const [alice, bob] = await users(2);
    const mallory = await harness.rawPeer('mallory');
    const callID = await startCall(alice!.plugin, [bob!.id, mallory.id]);
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [bob!.id]: 'received', [mallory.id]: 'inviting' }, 'the ring reaches Bob');
    const reported = next(alice!.plugin.errors$, (error) => error.code === 'PROTOCOL_VIOLATION' && error.message.includes(mallory.id));
    const connection = await mallory.connectTo(alice!.id);
    const acks: unknown[] = [];
    connection.on('data', (frame) => acks.push(frame));
    // Mallory, rung into the call, says Bob accepted: only Bob writes that.
    connection.send({ v: PROTOCOL_VERSION, kind: 'call', invitationID: callID, seq: 1, rows: [{ id: bob!.id, state: 'accepted', data: '', rev: 50 }], members: [mallory.id] });
    await reported;
    await waitUntil(() => acks.some((frame) => (frame as { of?: string }).of === 'call'), 'the forged message is acknowledged (not retried)');
    expect(alice!.heard.of(callID)[bob!.id]).to.equal('received');
  });

  /** One callee (`refuseWhenBusy`) with two tabs of its own; its databases are cleaned up after the test. */
  async function busyCallee(): Promise<{ calleeId: string; tabs: number[] }> {
    const calleeId = uniqueId('callee');
    for (const name of [`peer-invitation:${calleeId}`, `peer-invitation:${calleeId}:history`]) harness.track(name);
    const tabs = [
      await harness.peerPage(calleeId, { tab: true, options: { refuseWhenBusy: true } }),
      await harness.peerPage(calleeId, { tab: true, options: { refuseWhenBusy: true } }),
    ];
    return { calleeId, tabs };
  }

  it('a live call makes the user busy in both tabs; after quitting it rings again', async () => {
    const [alice, other] = await users(2);
    const { calleeId, tabs } = await busyCallee();
    const callID = await startCall(alice!.plugin, [calleeId]);
    await page({ action: 'waitFor', handle: tabs[1], expression: hasEvent('received', callID) });
    // The second tab (not the one holding the connection) joins: the call lives in the leading tab.
    const joined = (await page<{ value: { error: string | null } }>({ action: 'evaluate', handle: tabs[1], expression: `window.testPeer.callAction('joinInvitation', { invitationID: ${JSON.stringify(callID)} })` })).value;
    expect(joined.error).to.equal(null);
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [calleeId]: 'accepted' }, 'the callee joined');

    const refused = next(other!.plugin.invitationRefused$);
    const second = ok(await other!.plugin.sendInvitation({ inviterName: 'O', invitees: [calleeId], timeout: 30, type: 0, data: '' }));
    expect(await refused).to.deep.equal({ invitationID: second.invitationID, invitee: calleeId, data: '', reason: 'busy' });
    for (const tab of tabs) {
      const rang = (await page<{ value: boolean }>({ action: 'evaluate', handle: tab, expression: hasEvent('received', second.invitationID) })).value;
      expect(rang).to.equal(false);
    }

    const quit = (await page<{ value: { error: string | null } }>({ action: 'evaluate', handle: tabs[0], expression: `window.testPeer.callAction('quitInvitation', { invitationID: ${JSON.stringify(callID)} })` })).value;
    expect(quit.error).to.equal(null);
    const third = ok(await other!.plugin.sendInvitation({ inviterName: 'O', invitees: [calleeId], timeout: 30, type: 0, data: '' }));
    for (const tab of tabs) await page({ action: 'waitFor', handle: tab, expression: hasEvent('received', third.invitationID) });
  });

  // Crashing a renderer needs the DevTools Protocol: in Firefox the tab is closed instead (its Web Locks go either way).
  const gone = BROWSER === 'chromium' ? 'crashes' : 'closes';
  it(`the busy of a call goes with the tab holding it: once that tab ${gone}, calls ring in the other`, async () => {
    const [alice, other] = await users(2);
    const { calleeId, tabs } = await busyCallee();
    const callID = await startCall(alice!.plugin, [calleeId]);
    await page({ action: 'waitFor', handle: tabs[0], expression: hasEvent('received', callID) });
    await page({ action: 'evaluate', handle: tabs[0], expression: `window.testPeer.accept(${JSON.stringify(callID)})` });
    await everyoneSees([alice!.heard], callID, { [alice!.id]: 'accepted', [calleeId]: 'accepted' }, 'the callee accepted');
    const refused = next(other!.plugin.invitationRefused$);
    ok(await other!.plugin.sendInvitation({ inviterName: 'O', invitees: [calleeId], timeout: 30, type: 0, data: '' }));
    expect((await refused).reason).to.equal('busy');

    if (BROWSER === 'chromium') await harness.crashPage(tabs[0]!);
    else await harness.closePage(tabs[0]!);
    const again = ok(await other!.plugin.sendInvitation({ inviterName: 'O', invitees: [calleeId], timeout: 30, type: 0, data: '' }));
    await page({ action: 'waitFor', handle: tabs[1], expression: hasEvent('received', again.invitationID), timeoutMs: 40_000 });
  });
});
