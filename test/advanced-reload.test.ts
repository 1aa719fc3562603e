/**
 * Advanced-mode calls across reloads (issue #20, follow-up): a member's calls are kept in
 * IndexedDB with its legs, so a member whose page reloads still holds its calls, learns their
 * end, can quit and rejoin, and still sends what it owed; a call restored after a reload does
 * not make the user busy until the app acts on it again. Real PeerServer, real data channels,
 * real IndexedDB, real page reloads.
 */
import { expect } from '@esm-bundle/chai';
import { openDB } from 'idb';
import type { SignalingPlugin } from '../src/api/plugin.js';
import type { InvitationUserStateChangedEvent } from '../src/api/events.js';
import { FAST_DELIVERY, Harness, next, pageCommand as page, peerOptions, peerPageHas as hasEvent, uniqueId, waitUntil } from './helpers.js';

type Roster = Record<string, string>;

/** The latest state of each member of each call, as one plugin was told. */
function heard(plugin: SignalingPlugin): (callID: string) => Roster {
  const rosters = new Map<string, Roster>();
  plugin.invitationUserStateChanged$.subscribe((event: InvitationUserStateChangedEvent) => {
    const roster = rosters.get(event.invitationID) ?? {};
    for (const user of event.users) roster[user.id] = user.state;
    rosters.set(event.invitationID, roster);
  });
  return (callID) => ({ ...rosters.get(callID) });
}

function ok<T extends { error?: { code: string; message: string } | undefined }>(result: T): T {
  if (result.error) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result;
}

describe('advanced mode across reloads', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function evaluate<T>(handle: number, expression: string): Promise<T> {
    return (await page<{ value: T }>({ action: 'evaluate', handle, expression })).value;
  }

  /** What a peer page was told of a call's members since it loaded: the latest state of each. */
  function pageRoster(handle: number, callID: string): Promise<Roster> {
    return evaluate<Roster>(
      handle,
      `Object.fromEntries(window.testPeer.events.filter((e) => e.event === 'callUsers' && e.value.invitationID === ${JSON.stringify(callID)}).flatMap((e) => e.value.users.map((u) => [u.id, u.state])))`,
    );
  }

  const same = (a: Roster, b: Roster) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

  async function pageSees(handle: number, callID: string, expected: Roster, what: string): Promise<void> {
    let seen: Roster = {};
    await waitUntil(async () => same((seen = await pageRoster(handle, callID)), expected), what, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(expected)} (seen: ${JSON.stringify(seen)})`);
    });
  }

  async function sees(roster: (callID: string) => Roster, callID: string, expected: Roster, what: string): Promise<void> {
    await waitUntil(() => same(roster(callID), expected), `${what}: ${JSON.stringify(expected)} (seen: ${JSON.stringify(roster(callID))})`, 20_000);
  }

  /** A member in a peer page of its own, on a database the test names (so a reload finds it). */
  async function member(prefix: string, options: object = {}) {
    const id = uniqueId(prefix);
    const databaseName = `test:${id}`;
    harness.track(databaseName);
    harness.track(`${databaseName}:history`);
    const pluginOptions = { peer: await peerOptions(), databaseName, delivery: FAST_DELIVERY, ...options };
    const handle = await harness.peerPage(id, { options: pluginOptions });
    const reload = async () => {
      await page({ action: 'reload', handle });
      await page({ action: 'waitFor', handle, expression: 'window.testPeer !== undefined' });
      await evaluate(handle, `window.testPeer.connect(${JSON.stringify(id)}, ${JSON.stringify(pluginOptions)})`);
    };
    /**
     * Resolves once the page's store holds the call with these members' own states: a reload drops
     * what the page had not written yet (an IndexedDB transaction in flight is aborted).
     */
    const saved = async (callID: string, states: Roster, owes: string[] = []) => {
      const expression = `new Promise((resolve, reject) => {
        const open = indexedDB.open(${JSON.stringify(databaseName)});
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction('rows').objectStore('rows').get([${JSON.stringify(`${id}#calls`)}, ${JSON.stringify(callID)}, '']);
          get.onsuccess = () => { db.close(); resolve(get.result ? get.result.call : null); };
          get.onerror = () => { db.close(); reject(get.error); };
        };
      })`;
      await waitUntil(async () => {
        const call = await evaluate<{ roster: { rows: Record<string, { self?: { state: string } }> }; owed: string[] } | null>(handle, expression);
        return call !== null && Object.entries(states).every(([member, state]) => call.roster.rows[member]?.self?.state === state) && owes.every((peer) => call.owed.includes(peer));
      }, `the store of ${id} holds ${JSON.stringify(states)}`);
    };
    const act = async (method: 'joinInvitation' | 'quitInvitation' | 'endInvitation', callID: string) =>
      (await evaluate<{ error: string | null }>(handle, `window.testPeer.callAction(${JSON.stringify(method)}, { invitationID: ${JSON.stringify(callID)} })`)).error;
    return { id, handle, reload, act, saved };
  }

  async function user(prefix: string) {
    const made = await harness.user(prefix);
    harness.track(`${made.databaseName}:history`);
    return { ...made, roster: heard(made.plugin) };
  }

  /** Alice calls Bob (in a page) and Carol; both accept. */
  async function callOfThree(bobOptions: object = {}) {
    const alice = await user('alice');
    const carol = await user('carol');
    const bob = await member('bob', bobOptions);
    const callID = ok(await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id, carol.id], timeout: 30, type: 1, data: '', advancedMode: true })).invitationID;
    await page({ action: 'waitFor', handle: bob.handle, expression: hasEvent('received', callID) });
    await sees(carol.roster, callID, { [alice.id]: 'accepted', [bob.id]: 'received', [carol.id]: 'received' }, 'the rings arrive');
    await evaluate(bob.handle, `window.testPeer.accept(${JSON.stringify(callID)})`);
    ok(await carol.plugin.acceptInvitation({ invitationID: callID }));
    const allIn = { [alice.id]: 'accepted', [bob.id]: 'accepted', [carol.id]: 'accepted' };
    await sees(alice.roster, callID, allIn, 'all in');
    await sees(carol.roster, callID, allIn, 'all in');
    await pageSees(bob.handle, callID, allIn, 'all in');
    await bob.saved(callID, allIn);
    return { alice, bob, carol, callID, allIn };
  }

  it('a member that reloads during a call still holds it, then learns its end', async () => {
    const { alice, bob, callID, allIn } = await callOfThree();
    await bob.reload();
    // The new page is told the call as the last one left it, from the store.
    await pageSees(bob.handle, callID, allIn, 'the call after the reload');
    ok(await alice.plugin.endInvitation({ invitationID: callID, data: 'bye' }));
    await page({ action: 'waitFor', handle: bob.handle, expression: hasEvent('callEnded', callID), timeoutMs: 20_000 });
    const ends = await evaluate<unknown[]>(bob.handle, `window.testPeer.events.filter((e) => e.event === 'callEnded').map((e) => e.value)`);
    expect(ends).to.deep.equal([{ invitationID: callID, by: alice.id, data: 'bye' }]);
    // Told once: the next page finds the end in the store and does not announce it again.
    await bob.reload();
    expect(await bob.act('joinInvitation', callID)).to.equal('CALL_ENDED');
    expect(await evaluate<unknown[]>(bob.handle, `window.testPeer.events.filter((e) => e.event === 'callEnded')`)).to.deep.equal([]);
  });

  it('a member that reloads can quit and rejoin, and what it owed an offline member still gets there', async () => {
    const { alice, bob, carol, callID, allIn } = await callOfThree();
    await bob.reload();
    expect(await bob.act('quitInvitation', callID)).to.equal(null);
    await sees(alice.roster, callID, { ...allIn, [bob.id]: 'quit' }, 'Bob quit after his reload');
    await sees(carol.roster, callID, { ...allIn, [bob.id]: 'quit' }, 'Bob quit after his reload');
    expect(await bob.act('joinInvitation', callID)).to.equal(null);
    await sees(alice.roster, callID, allIn, 'Bob is back');
    await sees(carol.roster, callID, allIn, 'Bob is back');

    // Bob quits while Carol is away, and his page reloads before she is back: the new page still owes it to her.
    await carol.plugin.disconnectUser();
    expect(await bob.act('quitInvitation', callID)).to.equal(null);
    await sees(alice.roster, callID, { ...allIn, [bob.id]: 'quit' }, 'Bob quit while Carol is away');
    await bob.saved(callID, { [bob.id]: 'quit' }, [carol.id]);
    await bob.reload();
    // Until then the PeerServer may still hold an offer the old page made to Carol (expire_timeout 5 s),
    // carrying the quit: only the new page can tell her after that.
    const reloaded = performance.now();
    await waitUntil(() => performance.now() - reloaded > 6_000, 'offers of the old page expire on the PeerServer');
    await carol.plugin.connectUser({ id: carol.id, name: 'carol' });
    await sees(carol.roster, callID, { ...allIn, [bob.id]: 'quit' }, 'Carol, back, hears of the quit Bob owed her');
  });

  it('a call restored after a reload makes the user busy only once the app joins it again', async () => {
    const { bob, callID } = await callOfThree({ refuseWhenBusy: true });
    const other = await user('other');
    const refused = next(other.plugin.invitationRefused$);
    const busy = ok(await other.plugin.sendInvitation({ inviterName: 'O', invitees: [bob.id], timeout: 30, type: 0, data: '' }));
    expect((await refused).invitationID).to.equal(busy.invitationID);
    expect((await refused).reason).to.equal('busy');

    await bob.reload();
    await page({ action: 'waitFor', handle: bob.handle, expression: hasEvent('callUsers', callID) });
    const rings = ok(await other.plugin.sendInvitation({ inviterName: 'O', invitees: [bob.id], timeout: 30, type: 0, data: '' }));
    await page({ action: 'waitFor', handle: bob.handle, expression: hasEvent('received', rings.invitationID), timeoutMs: 20_000 });

    expect(await bob.act('joinInvitation', callID)).to.equal(null);
    const refusedAgain = next(other.plugin.invitationRefused$, () => true, 20_000);
    const again = ok(await other.plugin.sendInvitation({ inviterName: 'O', invitees: [bob.id], timeout: 30, type: 0, data: '' }));
    expect(await refusedAgain).to.deep.include({ invitationID: again.invitationID, reason: 'busy' });
  });

  it('keeps what a database made by the previous version holds, and keeps calls beside it', async () => {
    const alice = await user('alice');
    const bobId = uniqueId('bob');
    const databaseName = `test:${bobId}`;
    harness.track(databaseName);
    harness.track(`${databaseName}:history`);
    // The schema the previous version made (version 3), with a leg in it.
    const now = Date.now();
    const v3 = await openDB(databaseName, 3, {
      upgrade(db) {
        const rows = db.createObjectStore('rows', { keyPath: ['owner', 'invitationID', 'peer'] });
        rows.createIndex('owner', 'owner');
        rows.createIndex('ownerDeadline', ['owner', 'deadline']);
      },
    });
    await v3.put('rows', {
      owner: bobId, invitationID: 'from-v3', peer: alice.id, role: 'invitee', state: 'ringing', inviterName: 'Alice', type: 0, data: 'old',
      createTime: now, deadline: now + 30_000, outbox: null, outboxData: '', wired: true,
    });
    v3.close();
    const bob = await harness.plugin({ databaseName });
    const restored = next(bob.invitationReceived$);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    expect((await restored).invitationID).to.equal('from-v3');
    const callID = ok(await bob.sendInvitation({ inviterName: 'Bob', invitees: [alice.id], timeout: 30, type: 1, data: '', advancedMode: true })).invitationID;
    await sees(alice.roster, callID, { [bobId]: 'accepted', [alice.id]: 'received' }, 'the call rings Alice');
    await bob.disconnectUser();
    const db = await openDB(databaseName);
    try {
      expect(db.version).to.equal(3);
      expect([...db.objectStoreNames]).to.deep.equal(['rows']);
      const rows = await db.getAll('rows');
      expect(rows.filter((row) => row.owner === bobId).map((row) => row.invitationID)).to.include('from-v3');
      expect(rows.filter((row) => row.owner === `${bobId}#calls`).map((row) => row.invitationID)).to.deep.equal([callID]);
    } finally {
      db.close();
    }
    // The next plugin on the database finds both.
    const again = await harness.plugin({ databaseName });
    const users = next(again.invitationUserStateChanged$, (event) => event.invitationID === callID);
    const ring = next(again.invitationReceived$);
    await again.connectUser({ id: bobId, name: 'Bob' });
    expect((await ring).invitationID).to.equal('from-v3');
    expect((await users).users.map((one) => [one.id, one.state])).to.deep.include([bobId, 'accepted']);
  });
});
