/**
 * Store and forward (issue 3): nothing lost across offline peers and reloads,
 * nothing stale delivered, nothing announced twice. Real PeerServer, real
 * WebRTC, real IndexedDB; a "reload" is a new plugin on the same database.
 */
import { expect } from '@esm-bundle/chai';
import { openDB } from 'idb';
import type { DataConnection } from 'peerjs';
import { InvitationError } from '../src/index.js';
import { PROTOCOL_VERSION } from '../src/core/protocol.js';
import { openIndexedDbStore } from '../src/storage/indexeddb-store.js';
import type { OpenStore } from '../src/storage/store.js';
import { Harness, inviteAndRing, next, quiet, record, uniqueId, waitUntil } from './helpers.js';

const invite = (invitees: string[], timeout = 15, data = '') => ({ inviterName: 'Alice', invitees, timeout, type: 1, data });

/** Counts the legs kept in a user's database. */
async function storedLegs(databaseName: string): Promise<number> {
  const db = await openDB(databaseName);
  try {
    return db.objectStoreNames.contains('rows') ? await db.count('rows') : 0;
  } finally {
    db.close();
  }
}

describe('store and forward', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('1. queues for an offline invitee and delivers once, with the remaining time, when it connects', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const states = record(alice.plugin.inviteeStateChanged$);
    const { invitationID, error } = await alice.plugin.sendInvitation(invite([bobId], 15));
    expect(error).to.equal(undefined);
    expect(states.values).to.deep.equal([{ invitationID, invitee: bobId, state: 'queued' }]);

    const bob = await harness.plugin({ databaseName: `test:${bobId}` });
    harness.track(`test:${bobId}`);
    const received = record(bob.invitationReceived$);
    const first = next(bob.invitationReceived$);
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    await bob.connectUser({ id: bobId, name: 'Bob' });
    const connectedAt = performance.now();
    const invitation = await first;
    console.log(`redelivery: invitationReceived$ ${(performance.now() - connectedAt).toFixed(0)} ms after connectUser resolved`);
    expect(invitation.invitationID).to.equal(invitationID);
    // The time left, not the time given: less than 15 s, and some of it (how much is logged, not asserted).
    console.log(`redelivery: ${invitation.timeout.toFixed(3)} s of 15 s left on arrival`);
    expect(invitation.timeout).to.be.above(0).and.below(15);
    await delivered;
    await quiet(1000);
    expect(received.values).to.have.length(1);
    expect(states.values.map((event) => event.state)).to.deep.equal(['queued', 'delivered']);
  });

  it('2. never delivers after the deadline, times out the inviter once, and purges the record', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const timeouts = record(alice.plugin.invitationResponseTimeout$);
    const { invitationID } = await alice.plugin.sendInvitation(invite([bobId], 1.5));
    expect(alice.plugin.stats().pendingDeliveries).to.equal(1);
    expect(await storedLegs(alice.databaseName)).to.equal(1);
    await next(alice.plugin.invitationResponseTimeout$);
    expect(timeouts.values).to.deep.equal([{ invitationID, invitees: [bobId] }]);
    expect(alice.plugin.stats().pendingDeliveries).to.equal(0);

    const bob = await harness.plugin({ databaseName: `test:${bobId}` });
    harness.track(`test:${bobId}`);
    const received = record(bob.invitationReceived$);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    // Past the retention time (3 s in tests) the inviter forgets the invitation, on disk too.
    await waitUntil(async () => alice.plugin.stats().invitations === 0 && (await storedLegs(alice.databaseName)) === 0, 'the inviter forgot the invitation');
    expect(received.values).to.deep.equal([]);
    expect(timeouts.values).to.have.length(1);
    expect(alice.plugin.stats().invitations).to.equal(0);
    expect(await storedLegs(alice.databaseName)).to.equal(0);
  });

  it('3. an inviter reload keeps deadlines, queued deliveries, late answers and one response timeout', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const carol = await harness.user('carol');
    const carolRings = next(carol.plugin.invitationReceived$);
    const carolHasIt = next(alice.plugin.inviteeStateChanged$, (event) => event.invitee === carol.id && event.state === 'delivered');
    const { invitationID } = await alice.plugin.sendInvitation(invite([bobId, carol.id], 6));
    await carolRings;
    await carolHasIt;
    await alice.plugin.dispose();

    const reloaded = await harness.plugin({ databaseName: alice.databaseName });
    const restoredStates = record(reloaded.inviteeStateChanged$);
    const responseTimeouts = record(reloaded.invitationResponseTimeout$);
    const accepted = next(reloaded.invitationAccepted$);
    await reloaded.connectUser({ id: alice.id, name: 'Alice' });
    expect(restoredStates.values).to.deep.include.members([
      { invitationID, invitee: bobId, state: 'queued' },
      { invitationID, invitee: carol.id, state: 'delivered' },
    ]);

    const bob = await harness.plugin({ databaseName: `test:${bobId}` });
    harness.track(`test:${bobId}`);
    const bobRings = next(bob.invitationReceived$);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    const ringing = await bobRings;
    expect(ringing.invitationID).to.equal(invitationID);
    expect(ringing.timeout).to.be.lessThan(6);
    await bob.acceptInvitation({ invitationID, data: 'late but here' });
    expect(await accepted).to.deep.equal({ invitationID, invitee: bobId, data: 'late but here' });

    const timedOut = await next(reloaded.invitationResponseTimeout$, undefined, 10_000).catch(() => responseTimeouts.values[0]);
    expect(timedOut).to.deep.equal({ invitationID, invitees: [carol.id] });

    // Another reload after the deadline: the timeout was reported and is not reported again.
    await reloaded.dispose();
    const again = await harness.plugin({ databaseName: alice.databaseName });
    const repeated = record(again.invitationResponseTimeout$);
    await again.connectUser({ id: alice.id, name: 'Alice' });
    await quiet(500);
    expect(repeated.values).to.deep.equal([]);
    expect(responseTimeouts.values).to.have.length(1);
  });

  it('4. an invitee reload re-announces an unanswered invitation that can still be answered', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const { invitationID, received: first } = await inviteAndRing(alice.plugin, bob.plugin, invite([bob.id], 10, 'payload'));
    await bob.plugin.dispose();

    const reloaded = await harness.plugin({ databaseName: bob.databaseName });
    const again = next(reloaded.invitationReceived$);
    await reloaded.connectUser({ id: bob.id, name: 'Bob' });
    const restored = await again;
    expect(restored).to.include({ invitationID, type: 1, data: 'payload', createTime: first.createTime, deadline: first.deadline });
    expect(restored.inviter).to.deep.equal({ id: alice.id, name: 'Alice' });
    expect(restored.timeout).to.be.lessThan(first.timeout);
    const refused = next(alice.plugin.invitationRefused$);
    expect(await reloaded.refuseInvitation({ invitationID })).to.deep.equal({ invitationID });
    expect((await refused).invitee).to.equal(bob.id);
  });

  it("4. with storage: 'memory', a new plugin in the same page finds what the last one kept", async () => {
    const alice = await harness.user('alice', { storage: 'memory' });
    const bob = await harness.user('bob', { storage: 'memory' });
    const { invitationID } = await inviteAndRing(alice.plugin, bob.plugin, invite([bob.id], 10));
    await bob.plugin.dispose();
    const again = await harness.plugin({ storage: 'memory', databaseName: bob.databaseName });
    const restored = next(again.invitationReceived$);
    await again.connectUser({ id: bob.id, name: 'Bob' });
    expect((await restored).invitationID).to.equal(invitationID);
  });

  it('5a. keeps an answer while the inviter is offline and delivers it when the inviter returns', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const { invitationID } = await inviteAndRing(alice.plugin, bob.plugin, invite([bob.id], 20));
    await alice.plugin.dispose();

    expect(await bob.plugin.acceptInvitation({ invitationID, data: 'yes' })).to.deep.equal({ invitationID });
    expect(bob.plugin.stats().pendingDeliveries).to.equal(1);
    // The inviter's page is gone for the invitee too: no connection left that could still carry the answer.
    await waitUntil(() => bob.plugin.stats().openConnections === 0, 'the invitee closed its connection to the gone inviter');

    const back = await harness.plugin({ databaseName: alice.databaseName });
    const accepted = next(back.invitationAccepted$);
    await back.connectUser({ id: alice.id, name: 'Alice' });
    expect(await accepted).to.deep.equal({ invitationID, invitee: bob.id, data: 'yes' });
  });

  it('5b. keeps a cancel for an offline invitee and delivers it when the invitee returns', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const { invitationID } = await inviteAndRing(alice.plugin, bob.plugin, invite([bob.id], 20));
    await bob.plugin.dispose();
    expect(await alice.plugin.cancelInvitation({ invitationID, data: 'never mind' })).to.deep.equal({ invitationID, errorInvitees: [] });

    const back = await harness.plugin({ databaseName: bob.databaseName });
    const received = record(back.invitationReceived$);
    const canceled = next(back.invitationCanceled$);
    await back.connectUser({ id: bob.id, name: 'Bob' });
    expect(await canceled).to.deep.equal({ invitationID, inviter: { id: alice.id, name: 'Alice' }, data: 'never mind' });
    expect((await back.acceptInvitation({ invitationID })).error?.code).to.equal('CANCELED');
    // The restored invitation rang (connectUser restores it) before the cancel arrived, and never again after.
    expect(received.values.map((event) => event.invitationID)).to.deep.equal([invitationID]);
  });

  it('7a. survives a PeerServer restart: both sides reconnect and a queued invitation goes through', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const aliceStates = record(alice.plugin.connectionState$);
    const reconnecting = next(alice.plugin.connectionState$, (state) => state === 'reconnecting', 20_000);
    const { peerServer } = await import('./helpers.js');
    // The PeerServer is every test file's: whatever fails here, it runs again afterwards.
    let stopped = false;
    let invitationID: string;
    let rings: Promise<unknown>;
    try {
      stopped = true;
      await peerServer('stop');
      await reconnecting;
      const sent = await alice.plugin.sendInvitation(invite([bob.id], 30));
      expect(sent.error).to.equal(undefined);
      invitationID = sent.invitationID;
      rings = next(bob.plugin.invitationReceived$, undefined, 30_000);
    } finally {
      if (stopped) await peerServer('start');
    }
    expect(((await rings) as { invitationID: string }).invitationID).to.equal(invitationID);
    await next(alice.plugin.connectionState$, (state) => state === 'connected', 20_000);
    expect(aliceStates.values).to.include.members(['connected', 'reconnecting']);
    const accepted = next(alice.plugin.invitationAccepted$);
    await bob.plugin.acceptInvitation({ invitationID });
    expect((await accepted).invitee).to.equal(bob.id);
  });

  it('8a. reports STORAGE_FAILED when IndexedDB cannot be opened, and works in memory', async () => {
    const id = uniqueId('alice');
    const databaseName = `test:${id}`;
    harness.track(databaseName);
    // A newer schema than ours already holds the name: opening it fails with a VersionError.
    (await openDB(databaseName, 99)).close();
    const alice = await harness.plugin({ databaseName });
    const failure = next(alice.errors$, (error) => error.code === 'STORAGE_FAILED');
    await alice.connectUser({ id, name: 'Alice' });
    const error = await failure;
    expect(error).to.be.instanceOf(InvitationError);
    expect((error.cause as DOMException).name).to.equal('VersionError');
    const bob = await harness.user('bob');
    const rings = next(bob.plugin.invitationReceived$);
    const { invitationID } = await alice.sendInvitation(invite([bob.id]));
    expect((await rings).invitationID).to.equal(invitationID);
  });

  it('8b. reports STORAGE_FAILED once when the disk fills up, and loses nothing in this page', async () => {
    let writes = 0;
    const fillsUp: OpenStore = async (name, owner) => {
      const store = await openIndexedDbStore(name, owner);
      return {
        ...store,
        async put(legs) {
          writes += 1;
          if (writes > 1) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          return store.put(legs);
        },
      };
    };
    const alice = await harness.user('alice', { storage: fillsUp });
    const bob = await harness.user('bob');
    const errors = record(alice.plugin.errors$);
    const rings = record(bob.plugin.invitationReceived$);
    const accepted = record(alice.plugin.invitationAccepted$);
    const sent: string[] = [];
    for (let index = 0; index < 3; index++) {
      const ringing = next(bob.plugin.invitationReceived$);
      const { invitationID } = await alice.plugin.sendInvitation(invite([bob.id]));
      sent.push(invitationID);
      await ringing;
      const answered = next(alice.plugin.invitationAccepted$);
      await bob.plugin.acceptInvitation({ invitationID });
      await answered;
    }
    expect(errors.values.map((error) => error.code)).to.deep.equal(['STORAGE_FAILED']);
    expect((errors.values[0]!.cause as DOMException).name).to.equal('QuotaExceededError');
    expect(rings.values.map((event) => event.invitationID)).to.deep.equal(sent);
    expect(accepted.values.map((event) => event.invitationID)).to.deep.equal(sent);
  });

  it('upgrades a version 1 database and keeps its invitations, stamped with their user', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const databaseName = `test:${bobId}`;
    harness.track(databaseName);
    const now = Date.now();
    const v1 = await openDB(databaseName, 1, { upgrade: (db) => db.createObjectStore('legs', { keyPath: ['invitationID', 'peer'] }) });
    await v1.put('legs', {
      invitationID: 'from-v1', peer: alice.id, role: 'invitee', state: 'ringing', inviterName: 'Alice', type: 0, data: 'old',
      createTime: now, deadline: now + 10_000, outbox: null, outboxData: '', wired: true,
    });
    v1.close();
    const bob = await harness.plugin({ databaseName });
    const restored = next(bob.invitationReceived$);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    expect((await restored).invitationID).to.equal('from-v1');
    const db = await openDB(databaseName);
    expect(db.version).to.equal(3);
    expect([...db.objectStoreNames]).to.deep.equal(['rows']);
    expect([...db.transaction('rows').store.indexNames].sort()).to.deep.equal(['owner', 'ownerDeadline']);
    expect((await db.getAll('rows')).map((row) => [row.owner, row.invitationID])).to.deep.equal([[bobId, 'from-v1']]);
    db.close();
  });
});

describe('store and forward: duplicates and replays', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  function acks(connection: DataConnection): unknown[] {
    const seen: unknown[] = [];
    connection.on('data', (frame) => {
      if ((frame as { kind?: string }).kind === 'ack') seen.push(frame);
    });
    return seen;
  }

  it('6. announces a replayed invite, cancel or answer once, before and after a reload, and acks every copy', async () => {
    const bob = await harness.user('bob');
    const inviter = await harness.rawPeer('raw');
    const toBob = await inviter.connectTo(bob.id);
    const bobAcks = acks(toBob);
    const received = record(bob.plugin.invitationReceived$);
    const canceled = record(bob.plugin.invitationCanceled$);
    const message = { v: PROTOCOL_VERSION, kind: 'invite', invitationID: `${inviter.id}:${uniqueId('inv')}`, inviterName: 'Raw', type: 0, data: '', remainingMs: 10_000 };
    toBob.send(message);
    toBob.send(message);
    toBob.send({ ...message, remainingMs: 9000 });
    const cancel = { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: message.invitationID, data: 'bye', remainingMs: 8000 };
    toBob.send(cancel);
    toBob.send(cancel);
    while (bobAcks.length < 5) await quiet(50);
    expect(received.values).to.have.length(1);
    expect(canceled.values).to.have.length(1);

    await bob.plugin.dispose();
    const reloaded = await harness.plugin({ databaseName: bob.databaseName });
    const afterReload = record(reloaded.invitationReceived$);
    await reloaded.connectUser({ id: bob.id, name: 'Bob' });
    const again = await inviter.connectTo(bob.id);
    const againAcks = acks(again);
    again.send(message);
    while (againAcks.length < 1) await quiet(50);
    expect(afterReload.values).to.deep.equal([]);
  });

  it('6. counts a repeated answer once on the inviter side', async () => {
    const alice = await harness.user('alice');
    const invitee = await harness.rawPeer('raw');
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    let connection: DataConnection | undefined;
    const incoming = new Promise<string>((resolve) =>
      invitee.peer.on('connection', (inbound) => {
        connection = inbound;
        inbound.on('data', (frame) => {
          const invitation = frame as { kind: string; invitationID: string };
          if (invitation.kind === 'invite') {
            inbound.send({ v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: invitation.invitationID });
            resolve(invitation.invitationID);
          }
        });
      }),
    );
    await alice.plugin.sendInvitation(invite([invitee.id]));
    const invitationID = await incoming;
    await delivered;
    const seenAcks = acks(connection!);
    const accepted = record(alice.plugin.invitationAccepted$);
    const answer = { v: PROTOCOL_VERSION, kind: 'accept', invitationID, data: 'ok', remainingMs: 5000 };
    for (let copy = 0; copy < 3; copy++) connection!.send(answer);
    while (seenAcks.length < 3) await quiet(50);
    expect(accepted.values).to.deep.equal([{ invitationID, invitee: invitee.id, data: 'ok' }]);
  });
});
