/**
 * Issue #8, time and lifecycle, over the memory network and a virtual clock:
 * wall-clock steps and suspended pages, answers that never reach the inviter,
 * stale restores, acks before saving, reconnects, callbacks that throw, and
 * argument fuzzing. Item numbers are the issue's.
 */
import { expect } from '@esm-bundle/chai';
import { tap } from 'rxjs';
import { isInvitationError, type InvitationError } from '../../src/errors.js';
import type { SignalingPluginOptions } from '../../src/api/options.js';
import type { SignalingPlugin } from '../../src/api/plugin.js';
import { DEFAULT_DELIVERY } from '../../src/options.js';
import { MAX_TIMEOUT_SECONDS, PROTOCOL_VERSION } from '../../src/core/protocol.js';
import { openMemoryStore, type InvitationStore, type OpenStore } from '../../src/storage/store.js';
import type { SendInvitationParams } from '../../src/api/calls.js';
import { frameKind } from '../memory-transport.js';
import { World, type JournalEntry } from './world.js';

const { retentionMs } = DEFAULT_DELIVERY;
/** How late a deadline may be noticed: the plugin re-checks deadlines about once a second (plus a margin). */
const TICK_MS = 1100;
const MAX_REMAINING_MS = MAX_TIMEOUT_SECONDS * 1000;

/** The options of the fixed plugin that the current types do not know yet. */
type LifecycleOptions = SignalingPluginOptions & { wallClock?: () => number; name?: string };

let world: World;
/** Held store writes to let go before cleanup, which waits for them. */
let gates: (() => void)[] = [];
beforeEach(() => {
  world = new World();
});
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  await world.cleanup();
});

function params(invitees: string[], patch: Partial<SendInvitationParams> = {}): SendInvitationParams {
  return { inviterName: 'Alice', invitees, timeout: 4, type: 1, data: 'hi', ...patch };
}

async function invite(from: SignalingPlugin, invitees: string[], patch: Partial<SendInvitationParams> = {}): Promise<string> {
  const result = await from.sendInvitation(params(invitees, patch));
  expect(result.error, result.error?.message).to.equal(undefined);
  await world.clock.settle();
  return result.invitationID;
}

function eventsOf(journal: JournalEntry[], event: JournalEntry['event']): unknown[] {
  return journal.filter((entry) => entry.event === event).map((entry) => entry.value);
}

/**
 * A page's wall clock (`Date.now`) that a test can step like NTP, or move
 * while the page is suspended, independently of the monotonic virtual clock.
 */
function wallClock(): { wallClock: () => number; step(ms: number): void } {
  const epoch = Date.UTC(2026, 0, 1);
  let offset = 0;
  return {
    wallClock: () => epoch + world.clock.now() + offset,
    step(ms) {
      offset += ms;
    },
  };
}

/** A memory store whose writes can be held open, so that "acked" can be told apart from "stored". */
function gatedStorage(): { storage: OpenStore; hold(): void; release(): void } {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  return {
    storage: async (name, owner) => {
      const inner = await openMemoryStore(name, owner);
      return { ...inner, put: (legs) => gate.then(() => inner.put(legs)) };
    },
    hold() {
      gate = new Promise((resolve) => (open = resolve));
      gates.push(() => open());
    },
    release() {
      open();
    },
  };
}

describe('#8.1 lifecycle: a wall clock stepped or a page suspended', () => {
  it('#8.1 a wall clock set back 10 s on the invitee still ends the invitation at its deadline, once, on both sides', async () => {
    const bobClock = wallClock();
    const bobOptions: LifecycleOptions = { wallClock: bobClock.wallClock };
    const alice = await world.user('alice');
    const bob = await world.user('bob', bobOptions);
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const id = await invite(alice, ['bob'], { timeout: 4 });
    await world.clock.advance(1000);
    bobClock.step(-10_000);
    await world.clock.advanceTo(3999);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([]);
    await world.clock.advanceTo(4000 + TICK_MS);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.deep.equal([{ invitationID: id, invitees: ['bob'] }]);
    expect((await bob.acceptInvitation({ invitationID: id })).error?.code).to.equal('EXPIRED');
    await world.clock.advance(retentionMs * 2);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.have.length(1);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.have.length(1);
  });

  it('#8.1 a wall clock set back 20 minutes on the inviter ends the invitation at its deadline, once, and never sends remainingMs above the protocol bound', async () => {
    const aliceClock = wallClock();
    const aliceOptions: LifecycleOptions = { wallClock: aliceClock.wallClock };
    const alice = await world.user('alice', aliceOptions);
    const bob = await world.user('bob');
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    // carol is offline at first, so her invite is (re)sent after the step.
    const id = await invite(alice, ['bob', 'carol'], { timeout: 10 });
    await world.clock.advance(500);
    aliceClock.step(-20 * 60_000);
    await world.clock.advanceTo(1000);
    const carol = await world.user('carol');
    const carolJournal = world.journal(carol);
    await world.clock.advanceTo(6000);
    const carolRings = eventsOf(carolJournal, 'invitationReceived$') as { timeout: number }[];
    expect(carolRings, 'carol rings once the invite reaches her').to.have.length(1);
    expect(carolRings[0]!.timeout).to.be.at.most(9);
    const remaining = world.network.sent.map((sent) => (sent.frame as { remainingMs?: number }).remainingMs).filter((ms) => ms !== undefined);
    expect(Math.max(...remaining)).to.be.at.most(MAX_REMAINING_MS);
    expect(errorCodesOf(carolJournal)).to.deep.equal([]);

    await world.clock.advanceTo(9999);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.deep.equal([]);
    await world.clock.advanceTo(10_000 + TICK_MS);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.have.length(1);
    expect((eventsOf(aliceJournal, 'invitationResponseTimeout$')[0] as { invitees: string[] }).invitees).to.have.members(['bob', 'carol']);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    expect(eventsOf(carolJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    await world.clock.advance(retentionMs * 2);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.have.length(1);
  });

  it('#8.1 an invitee page suspended past the deadline ends the invitation within a tick of resuming', async () => {
    const bobClock = wallClock();
    const bobOptions: LifecycleOptions = { wallClock: bobClock.wallClock };
    const alice = await world.user('alice');
    const bob = await world.user('bob', bobOptions);
    const bobJournal = world.journal(bob);
    const id = await invite(alice, ['bob'], { timeout: 30 });
    await world.clock.advance(1000);
    // Suspended: the wall clock runs on, timers (the scheduler) do not.
    bobClock.step(60_000);
    await world.clock.advance(TICK_MS);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    expect((await bob.acceptInvitation({ invitationID: id })).error?.code).to.equal('EXPIRED');
    await world.clock.advance(30_000);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.have.length(1);
  });

  it('#8.1 an inviter page suspended past the deadline reports the response timeout within a tick of resuming', async () => {
    const aliceClock = wallClock();
    const aliceOptions: LifecycleOptions = { wallClock: aliceClock.wallClock };
    const alice = await world.user('alice', aliceOptions);
    await world.user('bob');
    const aliceJournal = world.journal(alice);
    const id = await invite(alice, ['bob'], { timeout: 30 });
    await world.clock.advance(1000);
    aliceClock.step(60_000);
    await world.clock.advance(TICK_MS);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.deep.equal([{ invitationID: id, invitees: ['bob'] }]);
    await world.clock.advance(30_000);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.have.length(1);
  });

  it('#8.1 a wall clock set forward past the deadline ends the invitation within a tick; acceptInvitation never says EXPIRED while it still rings', async () => {
    const bobClock = wallClock();
    const bobOptions: LifecycleOptions = { wallClock: bobClock.wallClock };
    const alice = await world.user('alice');
    const bob = await world.user('bob', bobOptions);
    const bobJournal = world.journal(bob);
    const id = await invite(alice, ['bob'], { timeout: 4 });
    await world.clock.advance(1000);
    bobClock.step(10_000);
    // Overdue by the stepped clock: the answer finds it so, ends it first (invitationTimeout$), then says EXPIRED.
    const answer = await bob.acceptInvitation({ invitationID: id });
    const timedOut = eventsOf(bobJournal, 'invitationTimeout$');
    expect(answer.error?.code, 'accepting an invitation 7 s overdue').to.equal('EXPIRED');
    expect(timedOut, 'EXPIRED answered while no invitationTimeout$ came').to.have.length(1);
    await world.clock.advance(TICK_MS);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
  });
});

function errorCodesOf(journal: JournalEntry[]): string[] {
  return journal.filter((entry) => entry.event === 'errors$').map((entry) => (entry.value as InvitationError).code);
}

describe('#8.3 lifecycle: an answer that never reaches the inviter', () => {
  it('#8.3 an accept still unacknowledged at the deadline ends the invitation on the invitee side with invitationTimeout$', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const id = await invite(alice, ['bob'], { timeout: 10 });
    world.network.setOnline('alice', false);
    await world.clock.advance(1000);
    expect((await bob.acceptInvitation({ invitationID: id })).error).to.equal(undefined);
    await world.clock.advanceTo(10_000 + TICK_MS);
    expect(eventsOf(aliceJournal, 'invitationResponseTimeout$')).to.deep.equal([{ invitationID: id, invitees: ['bob'] }]);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    world.network.setOnline('alice', true);
    await world.clock.advance(10_000);
    expect(eventsOf(aliceJournal, 'invitationAccepted$')).to.deep.equal([]);
    expect(eventsOf(bobJournal, 'invitationTimeout$')).to.have.length(1);
  });
});

describe('#8.4 lifecycle: what a reload restores', () => {
  it('#8.4 after a failed write, a reload does not ring an invitation the page already accepted', async () => {
    let failWrites = false;
    const failing: OpenStore = async (name, owner) => {
      const inner = await openMemoryStore(name, owner);
      return { ...inner, put: (legs) => (failWrites ? Promise.reject(new Error('disk full')) : inner.put(legs)) };
    };
    const databaseName = `reload-${Math.random().toString(36).slice(2)}`;
    const alice = await world.user('alice');
    const bob = await world.user('bob', { storage: failing, databaseName });
    const bobErrors = world.record(bob.errors$);
    const id = await invite(alice, ['bob'], { timeout: 30 });
    failWrites = true;
    expect((await bob.acceptInvitation({ invitationID: id })).error).to.equal(undefined);
    await world.clock.settle();
    expect(bobErrors.map((error) => error.code)).to.include('STORAGE_FAILED');
    await bob.dispose();

    const reloaded = world.plugin({ databaseName });
    const rings = world.record(reloaded.invitationReceived$);
    await reloaded.connectUser({ id: 'bob', name: 'bob' });
    await world.clock.advance(1000);
    expect(rings, 'an accepted invitation rang again after the reload').to.deep.equal([]);
    expect((await reloaded.acceptInvitation({ invitationID: id })).error).to.not.equal(undefined);
  });

  it('#8.4 two users sharing one databaseName never restore each other\'s invitations', async () => {
    const databaseName = `shared-${Math.random().toString(36).slice(2)}`;
    const alice = await world.user('alice');
    const bob = await world.user('bob', { databaseName });
    const id = await invite(alice, ['bob'], { timeout: 30 });
    await bob.disconnectUser();

    const carol = world.plugin({ databaseName });
    const journal = world.journal(carol);
    await carol.connectUser({ id: 'carol', name: 'carol' });
    await world.clock.advance(1000);
    expect(eventsOf(journal, 'invitationReceived$'), "carol rang bob's invitation").to.deep.equal([]);
    expect((await carol.acceptInvitation({ invitationID: id })).error?.code).to.equal('NOT_FOUND');
  });
});

describe('#8.5 lifecycle: an ack means stored here', () => {
  it('#8.5 a repeated invite is not acknowledged before the first copy is saved', async () => {
    const gated = gatedStorage();
    const bob = await world.user('bob', { storage: gated.storage });
    const alice = await world.raw('alice');
    const invite = { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'alice:r-1', inviterName: 'Alice', type: 0, data: '', remainingMs: 30_000 } as const;
    gated.hold();
    const rings = world.record(bob.invitationReceived$);
    await alice.send('bob', invite);
    await alice.send('bob', invite);
    await world.clock.settle();
    expect(rings).to.have.length(1);
    expect(alice.frames.filter((frame) => frameKind(frame) === 'ack'), 'acked before stored').to.deep.equal([]);
    gated.release();
    await world.clock.settle();
    expect(alice.frames.filter((frame) => frameKind(frame) === 'ack').length).to.be.at.least(1);
  });

  it('#8.5 a repeated cancel is not acknowledged before the first copy is saved', async () => {
    const gated = gatedStorage();
    const bob = await world.user('bob', { storage: gated.storage });
    const alice = await world.raw('alice');
    await alice.send('bob', { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'alice:r-2', inviterName: 'Alice', type: 0, data: '', remainingMs: 30_000 });
    await world.clock.settle();
    expect(alice.frames).to.have.length(1);
    const canceled = world.record(bob.invitationCanceled$);
    gated.hold();
    const cancel = { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: 'alice:r-2', data: '', remainingMs: 29_000 } as const;
    await alice.send('bob', cancel);
    await alice.send('bob', cancel);
    await world.clock.settle();
    expect(canceled).to.have.length(1);
    expect(alice.frames.filter((frame) => (frame as { of?: string }).of === 'cancel'), 'acked before stored').to.deep.equal([]);
    gated.release();
    await world.clock.settle();
    expect(alice.frames.filter((frame) => (frame as { of?: string }).of === 'cancel').length).to.be.at.least(1);
  });

  it('#8.5 a repeated answer is not acknowledged before the first copy is saved', async () => {
    const gated = gatedStorage();
    const alice = await world.user('alice', { storage: gated.storage });
    const bob = await world.raw('bob');
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob'], { timeout: 30 });
    await bob.send('alice', { v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: id });
    await world.clock.settle();
    gated.hold();
    const accept = { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: '', remainingMs: 29_000 } as const;
    await bob.send('alice', accept);
    await bob.send('alice', accept);
    await world.clock.settle();
    expect(accepted).to.have.length(1);
    expect(bob.frames.filter((frame) => (frame as { of?: string }).of === 'accept'), 'acked before stored').to.deep.equal([]);
    gated.release();
    await world.clock.settle();
    expect(bob.frames.filter((frame) => (frame as { of?: string }).of === 'accept').length).to.be.at.least(1);
  });
});

describe('#8.6 lifecycle: exactly once across reconnects in one page', () => {
  it('#8.6 disconnectUser then connectUser as the same user rings nothing again', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const rings = world.record(bob.invitationReceived$);
    for (let i = 0; i < 3; i++) await invite(alice, ['bob'], { timeout: 30 });
    expect(rings).to.have.length(3);
    await bob.disconnectUser();
    await bob.connectUser({ id: 'bob', name: 'bob' });
    await world.clock.advance(1000);
    expect(rings, 'invitationReceived$ after the reconnect').to.have.length(3);
    // The invitations still ring and can be answered.
    expect((await bob.acceptInvitation({ invitationID: (rings[0] as { invitationID: string }).invitationID })).error).to.equal(undefined);
  });
});

describe('#8.7 lifecycle: a rejection ack counts only for an owed answer', () => {
  it('#8.7 an ack with rejected after the accept was acknowledged changes nothing', async () => {
    const bob = await world.user('bob');
    const journal = world.journal(bob);
    const alice = await world.raw('alice');
    await alice.send('bob', { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'alice:k-1', inviterName: 'Alice', type: 0, data: '', remainingMs: 30_000 });
    await world.clock.settle();
    expect((await bob.acceptInvitation({ invitationID: 'alice:k-1' })).error).to.equal(undefined);
    await world.clock.settle();
    expect(alice.frames.some((frame) => frameKind(frame) === 'accept')).to.equal(true);
    await alice.send('bob', { v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: 'alice:k-1' });
    await world.clock.settle();
    await alice.send('bob', { v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: 'alice:k-1', rejected: 'expired' });
    await alice.send('bob', { v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: 'alice:k-1', rejected: 'canceled' });
    await world.clock.settle();
    expect(eventsOf(journal, 'invitationTimeout$')).to.deep.equal([]);
    expect(eventsOf(journal, 'invitationCanceled$')).to.deep.equal([]);
    expect((await bob.refuseInvitation({ invitationID: 'alice:k-1' })).error?.code).to.equal('ALREADY_RESPONDED');
  });
});

describe('#8.8 lifecycle: leaks and app callbacks that throw', () => {
  const notification = { notifyWhenAppIsInTheBackgroundOrQuit: true, title: 'Incoming call' };

  it('#8.8 a notification for an invitation the app answered inside its invitationReceived$ handler is never left open (it is not shown)', async () => {
    const shown: string[] = [];
    const closed: string[] = [];
    const alice = await world.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const bob = await world.user('bob', {
      notify: ({ invitationID }) => {
        shown.push(invitationID);
        return () => closed.push(invitationID);
      },
    });
    world.record(bob.invitationReceived$.pipe(tap(({ invitationID }) => void bob.acceptInvitation({ invitationID }))));
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob'], { timeout: 30, notificationConfig: notification });
    await world.clock.advance(1000);
    expect(accepted.map((event) => event.invitationID), 'answered inside the handler').to.deep.equal([id]);
    // Answered before its notification was due: never shown, so none is left open.
    expect(shown, 'notifications shown').to.deep.equal([]);
    expect(closed, 'notifications closed').to.deep.equal([]);
  });

  it('#8.8 a notify that throws during connectUser is reported on errors$ and connectUser still resolves', async () => {
    const databaseName = `notify-${Math.random().toString(36).slice(2)}`;
    const alice = await world.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const bob = await world.user('bob', { databaseName });
    const id = await invite(alice, ['bob'], { timeout: 30, notificationConfig: notification });
    await bob.dispose();

    const reloaded = world.plugin({ databaseName, notify: () => { throw new Error('notify broke'); } });
    const errors = world.record(reloaded.errors$);
    const rings = world.record(reloaded.invitationReceived$);
    const outcome = await reloaded.connectUser({ id: 'bob', name: 'bob' }).then(
      () => 'resolved',
      (error: unknown) => `rejected: ${String(error)}`,
    );
    expect(outcome).to.equal('resolved');
    expect(rings.map((ring) => ring.invitationID)).to.deep.equal([id]);
    expect(errors.every(isInvitationError)).to.equal(true);
    expect(errors.map((error) => error.code)).to.deep.equal(['APP_CALLBACK_FAILED']);
    expect((await reloaded.acceptInvitation({ invitationID: id })).error).to.equal(undefined);
  });

  it('#8.8 a notify that throws on an incoming invite is reported on errors$ and the invite is still acknowledged', async () => {
    const alice = await world.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const bob = await world.user('bob', { notify: () => { throw new Error('notify broke'); } });
    const errors = world.record(bob.errors$);
    const rings = world.record(bob.invitationReceived$);
    const states = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob'], { timeout: 30, notificationConfig: notification });
    await world.clock.settle();
    expect(rings.map((ring) => ring.invitationID)).to.deep.equal([id]);
    expect(states.map((event) => event.state)).to.deep.equal(['queued', 'delivered']);
    expect(errors.every(isInvitationError)).to.equal(true);
    expect(errors.map((error) => error.code)).to.deep.equal(['APP_CALLBACK_FAILED']);
  });

  it('#8.8 disconnectUser while connectUser opens the store closes that store', async () => {
    let opened = 0;
    let closed = 0;
    let letOpen = () => {};
    const opening = new Promise<void>((resolve) => (letOpen = resolve));
    gates.push(() => letOpen());
    const counting: OpenStore = async (name, owner) => {
      await opening;
      const inner: InvitationStore = await openMemoryStore(name, owner);
      opened += 1;
      return {
        ...inner,
        close() {
          closed += 1;
          inner.close();
        },
      };
    };
    const bob = world.plugin({ storage: counting });
    const connecting = bob.connectUser({ id: 'bob', name: 'bob' }).then(
      () => 'resolved',
      (error: unknown) => (isInvitationError(error) ? error.code : `not an InvitationError: ${String(error)}`),
    );
    await bob.disconnectUser();
    letOpen();
    expect(await connecting).to.equal('DISPOSED');
    await world.clock.settle();
    expect({ opened, closed }).to.deep.equal({ opened: 1, closed: 1 });
  });
});

/** A small seeded PRNG (mulberry32): the same garbage on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random JSON-shaped values: what a careless or hostile caller might pass. */
function garbageMaker(random: () => number): (depth?: number) => unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const scalars = [null, true, false, 0, -1, 5, 1.5, 1e308, -0, '', 'x', '🙂', 'inv-1', ' ', '\u0000'];
  const make = (depth = 0): unknown => {
    const roll = random();
    if (depth > 2 || roll < 0.5) return pick(scalars);
    if (roll < 0.65) return Array.from({ length: Math.floor(random() * 3) }, () => make(depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 3); i > 0; i--) object[pick(['a', 'id', 'data', 'timeout', 'invitees'])] = make(depth + 1);
    return object;
  };
  return make;
}

/** Valid-looking params with one field replaced by a value of the wrong type. */
function corrupt(random: () => number, make: (depth?: number) => unknown, valid: Record<string, unknown>): unknown {
  const fields = Object.keys(valid);
  const field = fields[Math.floor(random() * fields.length)]!;
  let value = make();
  // Keep only values whose type differs from the valid one, so the result is surely invalid.
  while (typeof value === typeof valid[field] && Array.isArray(value) === Array.isArray(valid[field])) value = make();
  return { ...valid, [field]: value };
}

describe('#8.9 lifecycle: bad arguments are data, never throws', () => {
  it('#8.9 cancelInvitation with invitees of the wrong type resolves INVALID_ARGUMENT', async () => {
    const alice = await world.user('alice');
    await world.user('bob');
    const id = await invite(alice, ['bob'], { timeout: 30 });
    const call = (invitees: unknown) => alice.cancelInvitation({ invitationID: id, invitees: invitees as string[] }).then(
      (result) => result.error?.code,
      (error: unknown) => `threw ${String(error)}`,
    );
    expect(await call(5)).to.equal('INVALID_ARGUMENT');
    expect(await call('bob')).to.equal('INVALID_ARGUMENT');
    expect(await call({ length: 1 })).to.equal('INVALID_ARGUMENT');
  });

  it('#8.9 fuzzed arguments to the four methods resolve INVALID_ARGUMENT and change nothing', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const sent = await invite(alice, ['bob'], { timeout: 600 });
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const statsBefore = [alice.stats(), bob.stats()];
    const framesBefore = world.network.sent.length;

    const random = prng(0x8_09);
    const make = garbageMaker(random);
    const validParams: Record<string, Record<string, unknown>> = {
      sendInvitation: { inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: '' },
      cancelInvitation: { invitationID: sent, invitees: ['bob'], data: '' },
      acceptInvitation: { invitationID: sent, data: '' },
      refuseInvitation: { invitationID: sent, data: '' },
    };
    const failures: string[] = [];
    for (let i = 0; i < 400; i++) {
      const method = (['sendInvitation', 'cancelInvitation', 'acceptInvitation', 'refuseInvitation'] as const)[i % 4]!;
      const caller = method === 'sendInvitation' || method === 'cancelInvitation' ? alice : bob;
      const argument = random() < 0.5 ? make() : corrupt(random, make, validParams[method]!);
      // Whole garbage never has every required field; a corrupted field always has the wrong type.
      let outcome: string;
      try {
        const result = (await (caller[method] as (params: unknown) => Promise<{ error?: InvitationError }>)(argument)) as { error?: InvitationError };
        outcome = result.error?.code ?? 'no error';
      } catch (error) {
        outcome = `threw ${String(error)}`;
      }
      if (outcome !== 'INVALID_ARGUMENT') failures.push(`${method}(${JSON.stringify(argument)}) -> ${outcome}`);
    }
    await world.clock.settle();
    expect(failures.slice(0, 10), `${failures.length} of 400 calls failed`).to.deep.equal([]);
    expect([alice.stats(), bob.stats()]).to.deep.equal(statsBefore);
    expect(world.network.sent.length, 'frames sent').to.equal(framesBefore);
    expect(aliceJournal).to.deep.equal([]);
    expect(bobJournal).to.deep.equal([]);
    expect((await bob.acceptInvitation({ invitationID: sent })).error).to.equal(undefined);
  });

  it('#8.9 fuzzed arguments to connectUser reject with INVALID_ARGUMENT and connect nobody', async () => {
    const plugin = world.plugin();
    const random = prng(0x8_0a);
    const make = garbageMaker(random);
    const failures: string[] = [];
    for (let i = 0; i < 200; i++) {
      const argument = random() < 0.5 ? make() : corrupt(random, make, { id: 'bob', name: 'Bob' });
      let outcome: string;
      try {
        await (plugin.connectUser as (params: unknown) => Promise<void>)(argument);
        outcome = 'resolved';
      } catch (error) {
        outcome = isInvitationError(error) ? error.code : `threw ${String(error)}`;
      }
      if (outcome !== 'INVALID_ARGUMENT') failures.push(`connectUser(${JSON.stringify(argument)}) -> ${outcome}`);
      if (plugin.user !== undefined) await plugin.disconnectUser();
    }
    expect(failures.slice(0, 10), `${failures.length} of 200 calls failed`).to.deep.equal([]);
    expect(plugin.user).to.equal(undefined);
    await plugin.connectUser({ id: 'bob', name: 'Bob' });
    expect(plugin.user).to.deep.equal({ id: 'bob', name: 'Bob' });
  });
});
