/**
 * The call history over the memory network and the virtual clock: records made
 * from the plugin's events, their outcomes, `seen`, the bounds, and writes
 * that fail or race a disconnect. The merge itself is checked for order.
 */
import { expect } from '@esm-bundle/chai';
import { Subject } from 'rxjs';
import type { InvitationRecord } from '../../src/api/history.js';
import type { SignalingPlugin } from '../../src/api/plugin.js';
import type { SendInvitationParams } from '../../src/api/calls.js';
import type { InvitationError } from '../../src/errors.js';
import { HistoryRecorder, type HistorySources } from '../../src/history/recorder.js';
import { mergeFact, view, type Fact, type StoredRecord } from '../../src/history/records.js';
import { deleteMemoryHistory, historyDatabaseName, openMemoryHistory, type HistoryStore } from '../../src/storage/history-store.js';
import { World } from './world.js';

let world: World;
const histories: string[] = [];
beforeEach(() => {
  world = new World();
});
afterEach(async () => {
  await world.cleanup();
  for (const name of histories.splice(0)) deleteMemoryHistory(name);
});

function params(invitees: string[], patch: Partial<SendInvitationParams> = {}): SendInvitationParams {
  return { inviterName: 'Alice', invitees, timeout: 30, type: 1, data: 'hi', ...patch };
}

async function invite(from: SignalingPlugin, invitees: string[], patch: Partial<SendInvitationParams> = {}): Promise<string> {
  const result = await from.sendInvitation(params(invitees, patch));
  expect(result.error, result.error?.message).to.equal(undefined);
  await world.clock.settle();
  return result.invitationID;
}

/** A user whose memory history is forgotten after the test; `databaseName` lets a later plugin be the same user after a reload. */
function user(id: string, databaseName = `history-${id}-${Math.random().toString(36).slice(2)}`, options: Parameters<World['user']>[1] = {}) {
  histories.push(historyDatabaseName(databaseName));
  return world.user(id, { databaseName, ...options });
}

async function list(plugin: SignalingPlugin, params?: Parameters<SignalingPlugin['listInvitations']>[0]): Promise<InvitationRecord[]> {
  const { invitations, error } = await plugin.listInvitations(params);
  expect(error, error?.message).to.equal(undefined);
  return invitations;
}

const summary = (records: InvitationRecord[]) => records.map(({ invitationID, outcome, seen }) => ({ invitationID, outcome, seen }));

describe('history: outcomes', () => {
  it('records what became of incoming and outgoing invitations, newest first', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const accepted = await invite(alice, ['bob'], { data: 'first', type: 7 });
    await bob.acceptInvitation({ invitationID: accepted });
    await world.clock.advance(1000);
    const refused = await invite(alice, ['bob']);
    await bob.refuseInvitation({ invitationID: refused });
    await world.clock.advance(1000);
    const canceled = await invite(alice, ['bob']);
    await alice.cancelInvitation({ invitationID: canceled });
    await world.clock.advance(1000);
    const timedOut = await invite(alice, ['bob'], { timeout: 5 });
    await world.clock.advance(6000);

    expect(summary(await list(bob))).to.deep.equal([
      { invitationID: timedOut, outcome: 'missed', seen: false },
      { invitationID: canceled, outcome: 'missed', seen: false },
      { invitationID: refused, outcome: 'refused', seen: false },
      { invitationID: accepted, outcome: 'accepted', seen: false },
    ]);
    const [first] = (await list(bob)).slice(-1);
    expect(first).to.deep.equal({
      invitationID: accepted,
      direction: 'incoming',
      inviter: { id: 'alice', name: 'Alice' },
      invitees: [],
      type: 7,
      data: 'first',
      createTime: 0,
      deadline: 30_000,
      endTime: 0,
      outcome: 'accepted',
      seen: false,
    });

    const sent = await list(alice);
    expect(sent.map((record) => [record.direction, record.inviter.id, record.invitees, record.seen])).to.deep.equal([
      ['outgoing', 'alice', [{ id: 'bob', outcome: 'timeout' }], true],
      ['outgoing', 'alice', [{ id: 'bob', outcome: 'canceled' }], true],
      ['outgoing', 'alice', [{ id: 'bob', outcome: 'refused' }], true],
      ['outgoing', 'alice', [{ id: 'bob', outcome: 'accepted' }], true],
    ]);
    expect(summary(await list(bob, { outcome: 'missed', limit: 1 }))).to.deep.equal([{ invitationID: timedOut, outcome: 'missed', seen: false }]);
    expect((await list(bob, { before: (await list(bob))[1]!.createTime })).map((record) => record.invitationID)).to.deep.equal([refused, accepted]);
    expect(await list(bob, { direction: 'outgoing' })).to.deep.equal([]);
  });

  it('gives each invitee of an outgoing invitation its own outcome, busy for a plugin that refused by itself', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol', undefined, { refuseWhenBusy: true });
    await carol.setBusy(true);
    const id = await invite(alice, ['bob', 'carol', 'dave']);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.advance(31_000);
    const [record] = await list(alice);
    expect(record!.invitationID).to.equal(id);
    expect(record!.invitees).to.deep.equal([
      { id: 'bob', outcome: 'accepted' },
      { id: 'carol', outcome: 'busy' },
      { id: 'dave', outcome: 'timeout' },
    ]);
    expect(record!.outcome).to.equal('accepted');
  });

  it('answers what the app asked wrong with INVALID_ARGUMENT, and NOT_CONNECTED before connectUser', async () => {
    const alice = await user('alice');
    for (const wrong of [{ direction: 'sideways' }, { outcome: 'lost' }, { limit: 0 }, { limit: 1.5 }, { before: 'yesterday' }, 'all']) {
      const { invitations, error } = await alice.listInvitations(wrong as never);
      expect([invitations, error?.code]).to.deep.equal([[], 'INVALID_ARGUMENT']);
    }
    expect((await alice.markSeen('x' as never)).error?.code).to.equal('INVALID_ARGUMENT');
    const idle = world.plugin();
    expect((await idle.listInvitations()).error?.code).to.equal('NOT_CONNECTED');
    expect((await idle.markSeen([])).error?.code).to.equal('NOT_CONNECTED');
  });
});

describe('history: seen, reloads and bounds', () => {
  it('keeps one record per invitation and its seen flag across a reload, and markSeen ignores unknown ids', async () => {
    const alice = await user('alice');
    const bobDatabase = `history-bob-${Math.random().toString(36).slice(2)}`;
    const bob = await user('bob', bobDatabase);
    const missed = await invite(alice, ['bob']);
    await alice.cancelInvitation({ invitationID: missed });
    const ringing = await invite(alice, ['bob']);
    await world.clock.settle();
    expect(await bob.markSeen([missed, 'nobody:1'])).to.deep.equal({});
    await bob.dispose();

    // The same user in a new page: the ringing invitation is restored and rings again.
    const reloaded = await user('bob', bobDatabase);
    await world.clock.settle();
    expect(summary(await list(reloaded))).to.deep.equal([
      { invitationID: ringing, outcome: 'ringing', seen: false },
      { invitationID: missed, outcome: 'missed', seen: true },
    ]);
    await alice.cancelInvitation({ invitationID: ringing });
    await world.clock.settle();
    expect(summary(await list(reloaded))).to.deep.equal([
      { invitationID: ringing, outcome: 'missed', seen: false },
      { invitationID: missed, outcome: 'missed', seen: true },
    ]);
  });

  it('saves what happened just before disconnectUser', async () => {
    const alice = await user('alice');
    const bobDatabase = `history-bob-${Math.random().toString(36).slice(2)}`;
    const bob = await user('bob', bobDatabase);
    const id = await invite(alice, ['bob']);
    const answering = bob.acceptInvitation({ invitationID: id });
    await answering;
    await bob.disconnectUser();
    await bob.connectUser({ id: 'bob', name: 'bob' });
    await world.clock.settle();
    expect(summary(await list(bob))).to.deep.equal([{ invitationID: id, outcome: 'accepted', seen: false }]);
  });

  it('keeps at most maxHistoryRecords, the newest, and nothing older than historyDays', async () => {
    const alice = await user('alice', undefined, { maxHistoryRecords: 3, historyDays: 1 });
    await user('bob');
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      ids.push(await invite(alice, ['bob'], { timeout: 1 }));
      await world.clock.advance(2000);
    }
    expect((await list(alice)).map((record) => record.invitationID)).to.deep.equal(ids.slice(2).reverse());
    await world.clock.advance(86_400_000);
    const last = await invite(alice, ['bob'], { timeout: 1 });
    expect((await list(alice)).map((record) => record.invitationID)).to.deep.equal([last]);
  });
});

describe('history: the recorder over a failing store', () => {
  function sources() {
    return {
      invitationReceived$: new Subject(),
      invitationCanceled$: new Subject(),
      invitationTimeout$: new Subject(),
      invitationAnsweredElsewhere$: new Subject(),
      inviteeStateChanged$: new Subject(),
      invitationRefused$: new Subject(),
    } as unknown as HistorySources & Record<keyof HistorySources, Subject<unknown>>;
  }

  it('keeps facts a write lost, shows them, saves them with the next write, once', async () => {
    const name = `history-failing-${Math.random().toString(36).slice(2)}`;
    histories.push(name);
    const real = await openMemoryHistory(name);
    let failures = 1;
    const failing: HistoryStore = {
      apply: (facts, bounds) => (failures-- > 0 ? Promise.reject(new DOMException('full', 'QuotaExceededError')) : real.apply(facts, bounds)),
      all: (since) => real.all(since),
      close: () => undefined,
    };
    const errors: InvitationError[] = [];
    const events = sources();
    const settings = { self: { id: 'bob', name: 'Bob' }, now: () => 1000, historyDays: 30, maxRecords: 100, report: (error: InvitationError) => errors.push(error) };
    const recorder = new HistoryRecorder({ ...settings, openStore: async () => failing }, events);
    events.invitationReceived$.next({ invitationID: 'alice:1', inviter: { id: 'alice', name: 'A' }, type: 0, data: '', timeout: 30, createTime: 1000, deadline: 31_000 });
    const shown = await recorder.list();
    expect(errors.map((error) => error.code)).to.deep.equal(['STORAGE_FAILED']);
    expect(summary(shown.invitations)).to.deep.equal([{ invitationID: 'alice:1', outcome: 'ringing', seen: false }]);
    expect(await real.all(0)).to.deep.equal([]);

    events.invitationCanceled$.next({ invitationID: 'alice:1', inviter: { id: 'alice', name: 'A' }, data: '' });
    await recorder.close();
    const again = new HistoryRecorder({ ...settings, openStore: async () => real }, sources());
    expect(summary((await again.list()).invitations)).to.deep.equal([{ invitationID: 'alice:1', outcome: 'missed', seen: false }]);
    expect(errors).to.have.length(1);
    await again.close();
  });
});

describe('history: the merge', () => {
  const facts: Fact[] = [
    { invitationID: 'alice:1', direction: 'incoming', time: 10, inviter: { id: 'alice', name: 'A' }, type: 1, data: 'd', deadline: 30_010, outcome: 'ringing' },
    { invitationID: 'alice:1', direction: 'incoming', time: 500, outcome: 'answeredElsewhere', answer: 'accept' },
    { invitationID: 'alice:1', direction: 'incoming', time: 400, outcome: 'accepted' },
    { invitationID: 'alice:1', direction: 'incoming', time: 600, seen: true, existingOnly: true },
    { invitationID: 'alice:1', direction: 'incoming', time: 20, inviter: { id: 'alice', name: 'A' }, type: 1, data: 'd', deadline: 30_010, outcome: 'ringing' },
  ];

  function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items];
    return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
  }

  it('gives the same record whatever order and however often facts arrive, unless seen comes before the record exists', async () => {
    const fold = (order: Fact[]) => order.reduce<StoredRecord | undefined>((record, fact) => mergeFact(record, fact), undefined);
    const expected = fold(facts);
    expect(expected).to.deep.include({ outcome: 'accepted', createTime: 10, endTime: 400, seen: true });
    expect(expected!.answer).to.equal(undefined);
    for (const order of permutations(facts)) {
      // markSeen of a record nobody wrote yet changes nothing: the only order that loses it.
      const seenFirst = order[0]!.existingOnly === true;
      const label = JSON.stringify(order.map((fact) => fact.time));
      expect(fold(order), label).to.deep.equal(seenFirst ? { ...expected, seen: false } : expected);
      expect(fold([...order, ...order]), label).to.deep.equal(expected);
    }
  });

  it('shows a record still ringing long after its deadline as missed (incoming) or timed out (outgoing)', () => {
    const self = { id: 'bob', name: 'B' };
    const incoming = mergeFact(undefined, facts[0]!)!;
    expect(view(incoming, self, 30_010).outcome).to.equal('ringing');
    expect(view(incoming, self, 60_000)).to.deep.include({ outcome: 'missed', endTime: 30_010 });
    const outgoing = mergeFact(undefined, { invitationID: 'bob:1', direction: 'outgoing', time: 0, deadline: 1000, invitees: { carol: 'ringing', dave: 'refused' } })!;
    expect(view(outgoing, self, 60_000)).to.deep.include({ outcome: 'refused', invitees: [{ id: 'carol', outcome: 'timeout' }, { id: 'dave', outcome: 'refused' }] });
  });
});
