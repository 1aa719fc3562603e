/**
 * Every public method, event and error code of the core, end to end: real
 * PeerServer, real WebRTC data channels between plugins in this page, real IndexedDB.
 */
import { expect } from '@esm-bundle/chai';
import { createSignalingPlugin, InvitationError, PROTOCOL_VERSION, type ConnectionState, type NotificationRequest } from '../src/index.js';
import { Harness, inviteAndRing, next, peerOptions, quiet, record, uniqueId, waitUntil } from './helpers.js';

describe('core: connecting', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('reports connecting then connected, and disconnected after disconnectUser', async () => {
    const plugin = await harness.plugin({ storage: 'memory' });
    const states = record<ConnectionState>(plugin.connectionState$);
    await plugin.connectUser({ id: uniqueId('c'), name: 'C' });
    await plugin.disconnectUser();
    await plugin.disconnectUser();
    expect(states.values).to.deep.equal(['disconnected', 'connecting', 'connected', 'disconnected']);
    expect(plugin.user).to.equal(undefined);
  });

  it('rejects invalid ids and names with INVALID_ARGUMENT', async () => {
    const plugin = await harness.plugin({ storage: 'memory' });
    for (const params of [{ id: '', name: 'x' }, { id: 'bad id!', name: 'x' }, { id: '-lead', name: 'x' }, { id: 'ok', name: 42 as unknown as string }]) {
      const error = await plugin.connectUser(params).then(() => undefined, (caught: unknown) => caught);
      expect(error, JSON.stringify(params)).to.be.instanceOf(InvitationError);
      expect((error as InvitationError).code).to.equal('INVALID_ARGUMENT');
    }
  });

  it('rejects a taken id with USER_ID_TAKEN and leaves the holder working', async () => {
    const holder = await harness.user('holder');
    const intruder = await harness.plugin({ storage: 'memory' });
    const error = await intruder.connectUser({ id: holder.id, name: 'again' }).catch((caught: InvitationError) => caught);
    expect(error).to.be.instanceOf(InvitationError);
    expect((error as InvitationError).code).to.equal('USER_ID_TAKEN');
    const caller = await harness.user('caller');
    const received = next(holder.plugin.invitationReceived$);
    await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [holder.id], timeout: 10, type: 0, data: '' });
    expect((await received).inviter.id).to.equal(caller.id);
  });

  it('rejects with SERVER_UNREACHABLE when no PeerServer listens', async () => {
    const plugin = await harness.plugin({ storage: 'memory', peer: { ...(await peerOptions()), port: 9 }, delivery: { connectTimeoutMs: 3000 } });
    const error = await plugin.connectUser({ id: uniqueId('lonely'), name: 'L' }).catch((caught: InvitationError) => caught);
    expect((error as InvitationError).code).to.equal('SERVER_UNREACHABLE');
  });

  it('refuses a second user while one is connected, and connects again after disconnectUser', async () => {
    const first = await harness.user('first', { storage: 'memory' });
    const error = await first.plugin.connectUser({ id: uniqueId('second'), name: 'S' }).catch((caught: InvitationError) => caught);
    expect((error as InvitationError).code).to.equal('ALREADY_CONNECTED');
    await first.plugin.disconnectUser();
    const secondId = uniqueId('second');
    await first.plugin.connectUser({ id: secondId, name: 'S' });
    expect(first.plugin.user).to.deep.equal({ id: secondId, name: 'S' });
  });

  it('answers NOT_CONNECTED before connectUser and DISPOSED after dispose', async () => {
    const plugin = await harness.plugin({ storage: 'memory' });
    const before = await plugin.sendInvitation({ inviterName: 'x', invitees: ['y'], timeout: 5, type: 0, data: '' });
    expect(before.error?.code).to.equal('NOT_CONNECTED');
    expect((await plugin.acceptInvitation({ invitationID: 'x' })).error?.code).to.equal('NOT_CONNECTED');
    await plugin.dispose();
    await plugin.dispose();
    expect((await plugin.sendInvitation({ inviterName: 'x', invitees: ['y'], timeout: 5, type: 0, data: '' })).error?.code).to.equal('DISPOSED');
    expect((await plugin.cancelInvitation({ invitationID: 'x' })).error?.code).to.equal('DISPOSED');
    expect((await plugin.refuseInvitation({ invitationID: 'x' })).error?.code).to.equal('DISPOSED');
    const error = await plugin.connectUser({ id: uniqueId('late'), name: 'L' }).catch((caught: InvitationError) => caught);
    expect((error as InvitationError).code).to.equal('DISPOSED');
  });
});

describe('core: sendInvitation', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('resolves EMPTY_INVITEES and sends nothing when only empty entries remain (the seed case)', async () => {
    const alice = await harness.user('alice');
    const states = record(alice.plugin.inviteeStateChanged$);
    const result = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: ['', ''], timeout: 5, type: 0, data: '' });
    expect(result.invitationID).to.equal('');
    expect(result.errorInvitees).to.deep.equal({});
    expect(result.error?.code).to.equal('EMPTY_INVITEES');
    expect(states.values).to.deep.equal([]);
    expect(alice.plugin.stats().invitations).to.equal(0);
  });

  it('drops empty entries, collapses duplicates and reports self and invalid ids', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const received = record(bob.plugin.invitationReceived$);
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    const result = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: ['', bob.id, bob.id, alice.id, 'no good!'], timeout: 10, type: 0, data: '' });
    expect(result.error).to.equal(undefined);
    expect(result.errorInvitees).to.deep.equal({ [alice.id]: 'self', 'no good!': 'invalid-id' });
    await delivered;
    await quiet(300);
    expect(received.values).to.have.length(1);
  });

  it('refuses bad timeouts, types and data with a clear code', async () => {
    const alice = await harness.user('alice');
    const base = { inviterName: 'A', invitees: ['bob'], timeout: 5, type: 0, data: '' };
    for (const timeout of [0, -1, 601, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect((await alice.plugin.sendInvitation({ ...base, timeout })).error?.code, `timeout ${timeout}`).to.equal('INVALID_ARGUMENT');
    }
    expect((await alice.plugin.sendInvitation({ ...base, type: 1.5 })).error?.code).to.equal('INVALID_ARGUMENT');
    expect((await alice.plugin.sendInvitation({ ...base, data: 'é'.repeat(4097) })).error?.code).to.equal('DATA_TOO_LARGE');
    expect((await alice.plugin.sendInvitation({ ...base, invitees: 'bob' as unknown as string[] })).error?.code).to.equal('INVALID_ARGUMENT');
  });

  it('delivers every field, 8 KiB of data and a fractional timeout intact', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const data = 'ß'.repeat(4096);
    const received = next(bob.plugin.invitationReceived$);
    const before = Date.now();
    const result = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 7.5, type: 3, data });
    const invitation = await received;
    expect(invitation).to.include({ invitationID: result.invitationID, type: 3, data });
    expect(invitation.inviter).to.deep.equal({ id: alice.id, name: 'Alice' });
    // What is left of the 7.5 s on arrival: never more, never none, and the same on both scales (how much the trip took is logged, not asserted).
    console.log(`core: 7.5 s invitation arrived with ${invitation.timeout.toFixed(3)} s left`);
    expect(invitation.timeout).to.be.above(0).and.at.most(7.5);
    expect(invitation.deadline - invitation.createTime).to.be.closeTo(invitation.timeout * 1000, 1);
    expect(invitation.createTime).to.be.within(before, Date.now());
  });
});

describe('core: answers, cancels and timeouts', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('accepts: inviter sees accepted, both state changes, and data', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const states = record(alice.plugin.inviteeStateChanged$);
    const received = next(bob.plugin.invitationReceived$);
    const accepted = next(alice.plugin.invitationAccepted$);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id], timeout: 10, type: 0, data: '' });
    await received;
    expect(await bob.plugin.acceptInvitation({ invitationID, data: 'on my way' })).to.deep.equal({ invitationID });
    expect(await accepted).to.deep.equal({ invitationID, invitee: bob.id, data: 'on my way' });
    expect(states.values.map((event) => event.state)).to.deep.equal(['queued', 'delivered', 'accepted']);
    expect((await bob.plugin.acceptInvitation({ invitationID })).error?.code).to.equal('ALREADY_RESPONDED');
    expect((await bob.plugin.refuseInvitation({ invitationID })).error?.code).to.equal('ALREADY_RESPONDED');
    expect((await bob.plugin.acceptInvitation({ invitationID: 'nope' })).error?.code).to.equal('NOT_FOUND');
  });

  it('refuses, and an accepted invitee cannot be canceled', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const received = next(bob.plugin.invitationReceived$);
    const refused = next(alice.plugin.invitationRefused$);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id], timeout: 10, type: 0, data: '' });
    await received;
    await bob.plugin.refuseInvitation({ invitationID, data: 'busy' });
    expect(await refused).to.deep.equal({ invitationID, invitee: bob.id, data: 'busy' });
    const cancel = await alice.plugin.cancelInvitation({ invitationID });
    expect(cancel.errorInvitees).to.deep.equal([]);
    expect(cancel.error?.code).to.equal('ALREADY_RESPONDED');
    expect((await alice.plugin.cancelInvitation({ invitationID: 'unknown' })).error?.code).to.equal('NOT_FOUND');
  });

  it('handles three invitees answering differently, and times out the silent one once', async () => {
    const alice = await harness.user('alice');
    const [bob, carol, dave] = [await harness.user('bob'), await harness.user('carol'), await harness.user('dave')];
    const ringing = Promise.all([bob, carol, dave].map((user) => next(user.plugin.invitationReceived$)));
    const responseTimeouts = record(alice.plugin.invitationResponseTimeout$);
    const daveTimeout = next(dave.plugin.invitationTimeout$);
    const accepted = next(alice.plugin.invitationAccepted$);
    const refused = next(alice.plugin.invitationRefused$);
    const daveTimedOut = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'timeout');
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id, carol.id, dave.id], timeout: 2, type: 1, data: 'room 7' });
    await ringing;
    await bob.plugin.acceptInvitation({ invitationID });
    await carol.plugin.refuseInvitation({ invitationID });
    expect((await accepted).invitee).to.equal(bob.id);
    expect((await refused).invitee).to.equal(carol.id);
    expect(await daveTimeout).to.deep.equal({ invitationID, inviter: { id: alice.id, name: 'A' } });
    expect(await daveTimedOut).to.deep.equal({ invitationID, invitee: dave.id, state: 'timeout' });
    await quiet(500);
    expect(responseTimeouts.values).to.deep.equal([{ invitationID, invitees: [dave.id] }]);
    expect((await dave.plugin.acceptInvitation({ invitationID })).error?.code).to.equal('EXPIRED');
  });

  it('cancels a subset, reports the ones it cannot cancel, then cancels the rest', async () => {
    const alice = await harness.user('alice');
    const [bob, carol, dave] = [await harness.user('bob'), await harness.user('carol'), await harness.user('dave')];
    const ringing = Promise.all([bob, carol, dave].map((user) => next(user.plugin.invitationReceived$)));
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id, carol.id, dave.id], timeout: 10, type: 0, data: '' });
    await ringing;
    const accepted = next(alice.plugin.invitationAccepted$);
    await dave.plugin.acceptInvitation({ invitationID });
    await accepted;

    const bobCanceled = next(bob.plugin.invitationCanceled$);
    const carolEvents = record(carol.plugin.invitationCanceled$);
    const subset = await alice.plugin.cancelInvitation({ invitationID, invitees: [bob.id, dave.id, 'stranger'], data: 'sorry' });
    expect(subset).to.deep.equal({ invitationID, errorInvitees: [dave.id, 'stranger'] });
    expect(await bobCanceled).to.deep.equal({ invitationID, inviter: { id: alice.id, name: 'A' }, data: 'sorry' });
    expect(carolEvents.values).to.deep.equal([]);
    expect((await bob.plugin.acceptInvitation({ invitationID })).error?.code).to.equal('CANCELED');

    const carolCanceled = next(carol.plugin.invitationCanceled$);
    expect(await alice.plugin.cancelInvitation({ invitationID })).to.deep.equal({ invitationID, errorInvitees: [] });
    await carolCanceled;
    expect((await carol.plugin.refuseInvitation({ invitationID })).error?.code).to.equal('CANCELED');
  });

  it('times out on both sides with short timeouts, and a late answer is EXPIRED', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const received = next(bob.plugin.invitationReceived$);
    const bobTimeout = next(bob.plugin.invitationTimeout$);
    const aliceTimeout = next(alice.plugin.invitationResponseTimeout$);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id], timeout: 0.8, type: 0, data: '' });
    await received;
    expect(await bobTimeout).to.deep.equal({ invitationID, inviter: { id: alice.id, name: 'A' } });
    expect(await aliceTimeout).to.deep.equal({ invitationID, invitees: [bob.id] });
    expect((await bob.plugin.acceptInvitation({ invitationID })).error?.code).to.equal('EXPIRED');
    expect((await alice.plugin.cancelInvitation({ invitationID })).error?.code).to.equal('EXPIRED');
  });
});

describe('core: answering from inside an event handler', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('accepts synchronously in invitationReceived$ and cancels synchronously in inviteeStateChanged$', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const carol = await harness.user('carol');
    bob.plugin.invitationReceived$.subscribe(({ invitationID }) => void bob.plugin.acceptInvitation({ invitationID, data: 'at once' }));
    const accepted = next(alice.plugin.invitationAccepted$);
    await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id], timeout: 10, type: 0, data: '' });
    expect((await accepted).data).to.equal('at once');

    const subscription = alice.plugin.inviteeStateChanged$.subscribe(({ invitationID, invitee, state }) => {
      if (invitee === carol.id && state === 'queued') void alice.plugin.cancelInvitation({ invitationID });
    });
    const carolRings = record(carol.plugin.invitationReceived$);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [carol.id], timeout: 10, type: 0, data: '' });
    subscription.unsubscribe();
    await quiet(500);
    expect(alice.plugin.stats().pendingDeliveries).to.equal(0);
    expect((await alice.plugin.cancelInvitation({ invitationID })).error?.code).to.equal('CANCELED');
    // Canceled before it went out: it never rings.
    expect(carolRings.values).to.deep.equal([]);
  });
});

describe('core: answers that cross a cancel or a deadline', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('ends with the same state on both sides when a cancel and an accept cross', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const { invitationID } = await inviteAndRing(alice.plugin, bob.plugin, { inviterName: 'A', invitees: [bob.id], timeout: 10, type: 0, data: '' });
    const aliceSees = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'accepted' || event.state === 'canceled');
    const bobCanceled = record(bob.plugin.invitationCanceled$);
    const [cancel, accept] = await Promise.all([alice.plugin.cancelInvitation({ invitationID }), bob.plugin.acceptInvitation({ invitationID })]);
    expect(accept.error).to.equal(undefined);
    const final = (await aliceSees).state;
    if (final === 'canceled') {
      expect(cancel.error).to.equal(undefined);
      if (bobCanceled.values.length === 0) await next(bob.plugin.invitationCanceled$);
    } else {
      expect(cancel.error?.code).to.equal('ALREADY_RESPONDED');
      await quiet(500);
      expect(bobCanceled.values).to.deep.equal([]);
    }
  });

  it('tells the invitee when its answer arrived too late or after a cancel', async () => {
    const bob = await harness.user('bob');
    const { id: inviterId, connectTo } = await harness.rawPeer('raw');
    const connection = await connectTo(bob.id);
    // The raw inviter rejects every answer, as an inviter whose deadline or cancel came first.
    const rejections: Record<string, string> = {};
    connection.on('data', (frame) => {
      const message = frame as { kind: string; invitationID: string };
      if (message.kind === 'accept' || message.kind === 'refuse') {
        connection.send({ v: PROTOCOL_VERSION, kind: 'ack', of: message.kind, invitationID: message.invitationID, rejected: rejections[message.invitationID] });
      }
    });
    const invitation = (invitationID: string) => ({ v: PROTOCOL_VERSION, kind: 'invite', invitationID, inviterName: 'Raw', type: 0, data: '', remainingMs: 10_000 });

    const late = `${inviterId}:${uniqueId('late')}`;
    rejections[late] = 'expired';
    const lateRings = next(bob.plugin.invitationReceived$, (event) => event.invitationID === late);
    connection.send(invitation(late));
    await lateRings;
    const timedOut = next(bob.plugin.invitationTimeout$);
    expect(await bob.plugin.acceptInvitation({ invitationID: late })).to.deep.equal({ invitationID: late });
    expect(await timedOut).to.deep.equal({ invitationID: late, inviter: { id: inviterId, name: 'Raw' } });

    const crossed = `${inviterId}:${uniqueId('crossed')}`;
    rejections[crossed] = 'canceled';
    const crossedRings = next(bob.plugin.invitationReceived$, (event) => event.invitationID === crossed);
    connection.send(invitation(crossed));
    await crossedRings;
    const canceled = next(bob.plugin.invitationCanceled$);
    await bob.plugin.refuseInvitation({ invitationID: crossed });
    expect(await canceled).to.deep.equal({ invitationID: crossed, inviter: { id: inviterId, name: 'Raw' }, data: '' });
    expect(bob.plugin.stats().pendingDeliveries).to.equal(0);
  });
});

describe('core: notifications', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function notificationsWith(globalSwitch: boolean, ownFlag: boolean): Promise<NotificationRequest[]> {
    const alice = await harness.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: globalSwitch });
    const shown: NotificationRequest[] = [];
    const closed: string[] = [];
    const bob = await harness.user('bob', {
      notify: (request) => {
        shown.push(request);
        return () => closed.push(request.invitationID);
      },
    });
    const received = next(bob.plugin.invitationReceived$);
    const { invitationID } = await alice.plugin.sendInvitation({
      inviterName: 'A', invitees: [bob.id], timeout: 10, type: 1, data: 'd',
      notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: ownFlag, resourceID: 'ring', title: 'Call', message: 'A calls' },
    });
    await received;
    await bob.plugin.refuseInvitation({ invitationID });
    expect(closed).to.deep.equal(shown.map((request) => request.invitationID));
    return shown;
  }

  it('travels only when both the global switch and its own flag are on, and closes when answered', async () => {
    const shown = await notificationsWith(true, true);
    expect(shown).to.have.length(1);
    expect(shown[0]).to.include({ resourceID: 'ring', message: 'Call\nA calls', type: 1, data: 'd' });
    expect(shown[0]!.title).to.equal(`${shown[0]!.inviter.id} (A) is calling`);
    expect(await notificationsWith(false, true)).to.deep.equal([]);
    expect(await notificationsWith(true, false)).to.deep.equal([]);
  });
});

describe('core: a peer sending garbage', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('drops malformed, oversized and unauthorized messages, reports the peer once, cuts it off, and keeps working', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bob.id], timeout: 10, type: 0, data: '' });
    await delivered;

    const rogue = await harness.rawPeer('rogue');
    const errors = record(alice.plugin.errors$);
    const events = record(alice.plugin.inviteeStateChanged$);
    const accepted = record(alice.plugin.invitationAccepted$);
    const connection = await rogue.connectTo(alice.id);
    const garbage: unknown[] = [
      'hello',
      42,
      null,
      [1, 2],
      { v: 99, kind: 'invite' },
      { v: PROTOCOL_VERSION, kind: 'explode' },
      { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'x', inviterName: 'R', type: 'voice', data: '', remainingMs: 1000 },
      { v: PROTOCOL_VERSION, kind: 'accept', invitationID, data: 'x'.repeat(9000), remainingMs: 1000 },
      // Well formed, but rogue was never invited: identity comes from the connection, not a field.
      { v: PROTOCOL_VERSION, kind: 'accept', invitationID, data: '', remainingMs: 1000, from: bob.id, invitee: bob.id },
    ];
    // Ten violations (the default violationsBeforeCooldown) cut the rogue off: its connection closes.
    const cutOff = new Promise<void>((resolve) => connection.on('close', () => resolve()));
    for (const frame of garbage) connection.send(frame);
    // Bytes that are not JSON at all, under PeerJS's JSON framing.
    connection.dataChannel.send('{"v":1,"kind":');
    await cutOff;
    // Reported once per peer and cool-down, naming the peer, however many frames it sent.
    expect(errors.values.map((error) => error.code)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(errors.values[0]!.message).to.include(rogue.id);
    expect(events.values).to.deep.equal([]);
    expect(accepted.values).to.deep.equal([]);
    expect(alice.plugin.stats().bannedPeers, 'peers cut off now').to.equal(1);

    // Cut off: its next offer is dropped unseen, counted in refusedOffers.
    expect(alice.plugin.stats().refusedOffers).to.equal(0);
    rogue.peer.connect(alice.id, { reliable: true, serialization: 'json' });
    await waitUntil(() => (alice.plugin.stats().refusedOffers ?? 0) > 0, 'an offer from the cut-off rogue refused');
    expect(alice.plugin.stats().refusedOffers).to.equal(1);

    // The real invitee still gets through.
    const realAccept = next(alice.plugin.invitationAccepted$);
    await bob.plugin.acceptInvitation({ invitationID });
    expect((await realAccept).invitee).to.equal(bob.id);
  });
});

describe('core: options', () => {
  it('uses the createInvitationID option and the default delivery timings', async () => {
    const harness = new Harness();
    try {
      const alice = await harness.user('alice', { createInvitationID: () => uniqueId('inv') });
      const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [uniqueId('nobody')], timeout: 1, type: 0, data: '' });
      expect(invitationID.startsWith(`${alice.id}:inv-`)).to.equal(true);
    } finally {
      await harness.cleanup();
    }
  });
});

/** README.md, as the dev server serves it from the project root. */
async function readme(): Promise<string> {
  const response = await fetch('/README.md');
  expect(response.ok, 'README.md served').to.equal(true);
  return response.text();
}

// The defaults against README's tables: test/unit/readme-defaults.test.ts.
describe('core: what README documents', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('stats() has the fields README lists, before connectUser and after', async () => {
    const row = (await readme()).split('\n').find((line) => line.startsWith('| `stats()` |'));
    const fields = row!.split('|')[2]!.match(/\w+/g)!.sort();
    expect(fields).to.have.length(7);
    expect(Object.keys(createSignalingPlugin().stats()).sort(), 'before connectUser').to.deep.equal(fields);
    const { plugin } = await harness.user('stats');
    expect(Object.keys(plugin.stats()).sort(), 'connected').to.deep.equal(fields);
    expect(Object.values(plugin.stats()).every((value) => Number.isInteger(value) && value >= 0)).to.equal(true);
  });
});

describe('core: connections stay bounded', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function until(condition: () => boolean, ms: number): Promise<void> {
    const giveUp = performance.now() + ms;
    while (!condition() && performance.now() < giveUp) await quiet(50);
  }

  it('keeps at most maxConnections open and closes idle ones', async () => {
    const alice = await harness.user('alice', { delivery: { maxConnections: 2, idleTimeoutMs: 1500 } });
    const invitees = [await harness.user('bob'), await harness.user('carol'), await harness.user('dave')];
    const delivered = new Set<string>();
    const all = new Promise<void>((resolve) =>
      alice.plugin.inviteeStateChanged$.subscribe((event) => {
        if (event.state === 'delivered') delivered.add(event.invitee);
        if (delivered.size === invitees.length) resolve();
      }),
    );
    await alice.plugin.sendInvitation({ inviterName: 'A', invitees: invitees.map((user) => user.id), timeout: 20, type: 0, data: '' });
    await all;
    expect(alice.plugin.stats().openConnections).to.be.at.most(2);
    await until(() => alice.plugin.stats().openConnections === 0, 6000);
    expect(alice.plugin.stats().openConnections).to.equal(0);
    expect(alice.plugin.stats().pendingDeliveries).to.equal(0);
  });
});
