/**
 * Issue #8, time and lifecycle, where the platform matters: a page's wall clock
 * replaced (BROWSER-TESTING.md fact 14), frozen pages, the PeerServer's id-taken
 * race, real IndexedDB failing, and pages that go away and come back against
 * PeerServers with different `expire_timeout`s. Item numbers are the issue's.
 */
import { expect } from '@esm-bundle/chai';
import { deleteDB } from 'idb';
import { Peer } from 'peerjs';
import { isInvitationError } from '../src/index.js';
import { DEFAULT_DELIVERY } from '../src/options.js';
import { openIndexedDbStore } from '../src/storage/indexeddb-store.js';
import type { OpenStore } from '../src/storage/store.js';
import { Harness, extraPeerServerOptions, inviteAndRing, next, pageCommand, peerOptions, peerPageHas, quiet, record, skipIn, uniqueId, waitUntil } from './helpers.js';

/** How late a deadline may be noticed: a timer tick (the plugin re-checks about once a second) plus the page command's polling. */
const TICK_MS = 1500;
/**
 * How long a test waits for an event before it fails: generous, so that a loaded machine never
 * fails a test; how long it took is logged (and measured by the bench), never asserted.
 */
const GENEROUS_MS = 18_000;

const invite = (invitees: string[], timeout = 4) => ({ inviterName: 'Alice', invitees, timeout, type: 1, data: '' });

interface PageEvent {
  event: string;
  value: { invitationID?: string; code?: string };
  at: number;
}

async function pageEvents(handle: number, event: string, invitationID?: string): Promise<PageEvent[]> {
  const { value } = await pageCommand<{ value: PageEvent[] }>({ action: 'evaluate', handle, expression: 'window.testPeer.events' });
  return value.filter((entry) => entry.event === event && (invitationID === undefined || entry.value.invitationID === invitationID));
}

function pageEvaluate<T>(handle: number, expression: string): Promise<T> {
  return pageCommand<{ value: T }>({ action: 'evaluate', handle, expression }).then(({ value }) => value);
}

/** Waits for a page event; on a timeout, rejects with what the page recorded instead. */
async function pageWaitFor(handle: number, event: string, invitationID: string, timeoutMs: number): Promise<PageEvent> {
  try {
    await pageCommand({ action: 'waitFor', handle, expression: peerPageHas(event, invitationID), timeoutMs });
  } catch {
    const seen = await pageEvaluate<PageEvent[]>(handle, 'window.testPeer.events');
    throw new Error(`no "${event}" for ${invitationID} in the page within ${timeoutMs} ms; it recorded ${JSON.stringify(seen.map((entry) => entry.event))}`);
  }
  return (await pageEvents(handle, event, invitationID))[0]!;
}

describe('#8.1 lifecycle in real pages: a wall clock stepped', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  /** The invitee's page (the test's browser, or Firefox where the platform's clocks may differ) steps its wall clock back while it rings. */
  async function inviteeSteppedBack(stepMs: number, label: string, browser?: 'firefox'): Promise<void> {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const bobPage = await harness.peerPage(bobId, { browser, options: { storage: 'memory' } });
    const responseTimeouts = record(alice.plugin.invitationResponseTimeout$);
    const sentAt = performance.now();
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    const { invitationID } = await alice.plugin.sendInvitation(invite([bobId], 4));
    await delivered;
    const rang = await pageWaitFor(bobPage, 'received', invitationID, GENEROUS_MS);
    await pageEvaluate(bobPage, `window.testPeer.stepWallClock(${stepMs})`);

    await next(alice.plugin.invitationResponseTimeout$, (event) => event.invitationID === invitationID, GENEROUS_MS);
    console.log(`#8.1 invitee${browser ? ` (${browser})` : ''} stepped ${label}: inviter timeout ${(performance.now() - sentAt).toFixed(0)} ms after sending (deadline 4000 ms)`);
    const ended = await pageWaitFor(bobPage, 'timeout', invitationID, GENEROUS_MS);
    console.log(`#8.1 invitee${browser ? ` (${browser})` : ''} stepped ${label}: invitee timeout ${(ended.at - rang.at).toFixed(0)} ms after ringing (deadline 4000 ms)`);
    // Still remembered (retention is 3 s in tests), and over.
    expect(await pageEvaluate<{ code?: string }>(bobPage, `window.testPeer.accept(${JSON.stringify(invitationID)}).then((r) => ({ code: r.error?.code }))`)).to.deep.equal({ code: 'EXPIRED' });
    await quiet(TICK_MS);
    expect(await pageEvents(bobPage, 'timeout', invitationID)).to.have.length(1);
    expect(responseTimeouts.values).to.have.length(1);
  }

  it("#8.1 a wall clock set back 10 s on the invitee's page in Firefox still ends the invitation at its deadline, once, on both sides", () =>
    inviteeSteppedBack(-10_000, '10 s', 'firefox'));

  for (const stepMs of [-10_000, -20 * 60_000]) {
    const label = stepMs === -10_000 ? '10 s' : '20 minutes';

    it(`#8.1 a wall clock set back ${label} on the invitee's page still ends the invitation at its deadline, once, on both sides`, () =>
      inviteeSteppedBack(stepMs, label));

    it(`#8.1 a wall clock set back ${label} on the inviter's page still ends the invitation at its deadline, once, on both sides`, async () => {
      const bob = await harness.user('bob');
      const aliceId = uniqueId('alice');
      const alicePage = await harness.peerPage(aliceId, { options: { storage: 'memory' } });
      const timeouts = record(bob.plugin.invitationTimeout$);
      const rings = next(bob.plugin.invitationReceived$);
      const invitationID = await pageEvaluate<string>(alicePage, `window.testPeer.send(${JSON.stringify(invite([bob.id], 4))})`);
      const sentAt = performance.now();
      await rings;
      await pageWaitFor(alicePage, 'state', invitationID, GENEROUS_MS);
      await pageEvaluate(alicePage, `window.testPeer.stepWallClock(${stepMs})`);

      await next(bob.plugin.invitationTimeout$, (event) => event.invitationID === invitationID, GENEROUS_MS);
      console.log(`#8.1 inviter stepped ${label}: invitee timeout ${(performance.now() - sentAt).toFixed(0)} ms after sending (deadline 4000 ms)`);
      await pageWaitFor(alicePage, 'responseTimeout', invitationID, GENEROUS_MS);
      console.log(`#8.1 inviter stepped ${label}: inviter response timeout ${(performance.now() - sentAt).toFixed(0)} ms after sending (deadline 4000 ms)`);
      await quiet(TICK_MS);
      expect(await pageEvents(alicePage, 'responseTimeout', invitationID)).to.have.length(1);
      expect(timeouts.values).to.have.length(1);
    });
  }

  it("#8.1 an invite sent after the inviter's wall clock was set back 20 minutes rings, with remainingMs within the protocol's bound", async () => {
    const aliceId = uniqueId('alice');
    const alicePage = await harness.peerPage(aliceId, { options: { storage: 'memory' } });
    const bobId = uniqueId('bob');
    const invitationID = await pageEvaluate<string>(alicePage, `window.testPeer.send(${JSON.stringify(invite([bobId], 10))})`);
    await pageEvaluate(alicePage, `window.testPeer.stepWallClock(${-20 * 60_000})`);

    const bob = await harness.plugin({ databaseName: `test:${bobId}` });
    harness.track(`test:${bobId}`);
    const errors = record(bob.errors$);
    const rings = next(bob.invitationReceived$, (event) => event.invitationID === invitationID, GENEROUS_MS);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    const rang = await rings.catch((error: unknown) => {
      throw new Error(`${String(error)}; bob's errors$: ${JSON.stringify(errors.values.map((e) => e.message))}`);
    });
    expect(rang.timeout).to.be.at.most(10);
    expect(errors.values.map((error) => error.code)).to.not.include('PROTOCOL_VIOLATION');
  });

  it("#8.1 a wall clock set forward past the deadline on the invitee's page ends the invitation; acceptInvitation never says EXPIRED while it rings", async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const bobPage = await harness.peerPage(bobId, { options: { storage: 'memory' } });
    // Two invitations ringing at once: one left alone must end, one answered at once must not be EXPIRED while it still rings.
    const left = await alice.plugin.sendInvitation(invite([bobId], 10));
    const answered = await alice.plugin.sendInvitation(invite([bobId], 10));
    await pageWaitFor(bobPage, 'received', left.invitationID, GENEROUS_MS);
    await pageWaitFor(bobPage, 'received', answered.invitationID, GENEROUS_MS);
    const steppedAt = await pageEvaluate<number>(bobPage, 'window.testPeer.stepWallClock(20000), performance.now()');
    // Whether invitationTimeout$ had come is read in the page the moment the answer settles.
    const answer = await pageEvaluate<{ code?: string; timedOut: boolean }>(
      bobPage,
      `window.testPeer.accept(${JSON.stringify(answered.invitationID)}).then((r) => ({ code: r.error?.code, timedOut: window.testPeer.events.some((e) => e.event === 'timeout' && e.value.invitationID === ${JSON.stringify(answered.invitationID)}) }))`,
    );
    if (answer.code === 'EXPIRED') expect(answer.timedOut, 'EXPIRED answered while no invitationTimeout$ had come').to.equal(true);
    else expect(answer.code).to.equal(undefined);
    const ended = await pageWaitFor(bobPage, 'timeout', left.invitationID, GENEROUS_MS);
    console.log(`#8.1 invitee stepped forward 20 s: the unanswered invitation ended ${(ended.at - steppedAt).toFixed(0)} ms after the step (its deadline was 10 s away)`);
    expect(await pageEvents(bobPage, 'timeout', left.invitationID)).to.have.length(1);
  });

  it("#8.1 an invitee's page suspended past the deadline ends the invitation once it resumes", async function () {
    skipIn(this, 'firefox', 'freezing a page takes the DevTools Protocol (Page.setWebLifecycleState); the page under test is the frozen one, so a Chromium peer page would only repeat the Chromium run');
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const bobPage = await harness.peerPage(bobId, { options: { storage: 'memory' } });
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    const { invitationID } = await alice.plugin.sendInvitation(invite([bobId], 8));
    await delivered;
    await pageWaitFor(bobPage, 'received', invitationID, GENEROUS_MS);
    // Asleep: the page runs nothing, and wakes with its wall clock a minute on.
    await pageEvaluate(bobPage, 'window.testPeer.stepWallClock(60000, { afterMs: 200 })');
    await pageCommand({ action: 'lifecycle', handle: bobPage, state: 'frozen' });
    await quiet(1000);
    await pageCommand({ action: 'lifecycle', handle: bobPage, state: 'active' });
    const resumedAt = await pageEvaluate<number>(bobPage, 'performance.now()');
    const ended = await pageWaitFor(bobPage, 'timeout', invitationID, GENEROUS_MS);
    console.log(`#8.1 suspended invitee: timeout ${(ended.at - resumedAt).toFixed(0)} ms after resuming`);
    expect(await pageEvents(bobPage, 'timeout', invitationID)).to.have.length(1);
  });
});

/** Resolves `'open'` when a fresh Peer can register `id`, or the PeerJS error type that stopped it. */
async function canRegister(id: string): Promise<string> {
  const peer = new Peer(id, await peerOptions());
  try {
    return await new Promise<string>((resolve) => {
      peer.on('open', () => resolve('open'));
      peer.on('error', (error) => resolve(error.type));
      setTimeout(() => resolve('no answer within 5 s'), 5000);
    });
  } finally {
    peer.destroy();
  }
}

/** Deletes a database; resolves with whether an open connection blocked the deletion (then gives up waiting). */
function deleteReportingBlocked(name: string): Promise<'deleted' | 'blocked'> {
  return new Promise((resolve) => {
    let blocked = false;
    void deleteDB(name, { blocked: () => { blocked = true; resolve('blocked'); } }).then(() => {
      if (!blocked) resolve('deleted');
    });
  });
}

type RaceStep = 'connectUser' | 'disconnectUser' | 'dispose';

/**
 * Watches this page's PeerServer sockets for `id` (PeerJS opens them with the global
 * `WebSocket`, looked up at each registration): how many were opened, and how many
 * `ID-TAKEN` answers they got, so a test knows a registration met the taken id.
 */
function watchSockets(id: string): { opened: number; idTaken: number; restore(): void } {
  const original = window.WebSocket;
  const watch = { opened: 0, idTaken: 0, restore: () => { window.WebSocket = original; } };
  window.WebSocket = class extends original {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      if (new URL(String(url)).searchParams.get('id') !== id) return;
      watch.opened += 1;
      this.addEventListener('message', (event: MessageEvent) => {
        if (typeof event.data === 'string' && event.data.includes('"ID-TAKEN"')) watch.idTaken += 1;
      });
    }
  };
  return watch;
}

describe('#8.2 lifecycle: calls during connectUser\'s id-taken retry', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  const table: RaceStep[][] = [
    ['connectUser', 'disconnectUser'],
    ['connectUser', 'dispose'],
    ['connectUser', 'connectUser'],
    ['connectUser', 'disconnectUser', 'connectUser'],
    ['connectUser', 'dispose', 'connectUser'],
    ['connectUser', 'disconnectUser', 'dispose'],
    ['connectUser', 'connectUser', 'disconnectUser'],
    ['connectUser', 'disconnectUser', 'connectUser', 'disconnectUser'],
  ];

  for (const steps of table) {
    const endsConnected = steps.at(-1) === 'connectUser' && !steps.includes('dispose');
    it(`#8.2 ${steps.join(', ')} while the server still holds the id leaves ${endsConnected ? 'one working plugin' : 'no Peer on the id'} and no open database`, async () => {
      const id = uniqueId('taken');
      const databaseName = `test:${id}`;
      const holder = new Peer(id, await peerOptions());
      await new Promise<void>((resolve) => holder.on('open', () => resolve()));
      // A long backoff beside ~30 ms registrations: each step below lands in a backoff wait.
      const plugin = await harness.plugin({ databaseName, delivery: { idTakenRetryMs: 5000, retryInitialDelayMs: 1000, retryMaxDelayMs: 1000 } });
      const connects: Promise<string>[] = [];
      const sockets = watchSockets(id);
      try {
        try {
          for (const step of steps) {
            if (step === 'connectUser') {
              const idTakenBefore = sockets.idTaken;
              connects.push(plugin.connectUser({ id, name: 'Taken' }).then(() => 'resolved', (error: unknown) => (isInvitationError(error) ? error.code : `threw ${String(error)}`)));
              // Inside the retry: a registration of this connectUser has met the taken id, and its backoff (1 s) begins.
              await waitUntil(() => sockets.idTaken > idTakenBefore, `#8.2 ${steps.join(', ')}: ID-TAKEN after a connectUser`);
            } else {
              await plugin[step]();
            }
          }
        } finally {
          holder.destroy();
        }
        const socketsAfterSteps = sockets.opened;
        const outcomes = await Promise.all(connects);
        console.log(`#8.2 ${steps.join(', ')}: connectUser outcomes ${outcomes.join(', ')}`);

        if (endsConnected) {
          expect(outcomes.at(-1)).to.equal('resolved');
          const alice = await harness.user('alice');
          const rings = next(plugin.invitationReceived$);
          await alice.plugin.sendInvitation(invite([id], 10));
          expect((await rings).inviter.id).to.equal(alice.id);
          await plugin.dispose();
        } else {
          // Let any abandoned retry run out (a backoff of 1 s, then a register); what it opened is logged.
          await quiet(2000);
          console.log(`#8.2 ${steps.join(', ')}: ${sockets.opened - socketsAfterSteps} PeerServer sockets opened on the id after the last step`);
        }
      } finally {
        sockets.restore();
      }
      if (!endsConnected) expect(await canRegister(id), 'a fresh Peer registering the id').to.equal('open');
      expect(await deleteReportingBlocked(databaseName)).to.equal('deleted');
    });
  }
});

describe('#8.4 lifecycle in a real page: a failed IndexedDB write, then a reload', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('#8.4 a reload after a failed write never rings an invitation the page already accepted', async () => {
    let failWrites = false;
    const failing: OpenStore = async (name, owner) => {
      const inner = await openIndexedDbStore(name, owner);
      return { ...inner, put: (legs) => (failWrites ? Promise.reject(new DOMException('simulated', 'QuotaExceededError')) : inner.put(legs)) };
    };
    const alice = await harness.user('alice');
    const bob = await harness.user('bob', { storage: failing });
    const errors = record(bob.plugin.errors$);
    const { invitationID } = await inviteAndRing(alice.plugin, bob.plugin, invite([bob.id], 30));
    failWrites = true;
    const accepted = next(alice.plugin.invitationAccepted$);
    expect((await bob.plugin.acceptInvitation({ invitationID })).error).to.equal(undefined);
    await accepted;
    expect(errors.values.map((error) => error.code)).to.include('STORAGE_FAILED');
    await bob.plugin.dispose();

    const reloaded = await harness.plugin({ databaseName: bob.databaseName });
    const rings = record(reloaded.invitationReceived$);
    await reloaded.connectUser({ id: bob.id, name: 'bob' });
    await quiet(500);
    expect(rings.values.map((ring) => ring.invitationID), 'rang again after the reload').to.deep.equal([]);
    expect((await reloaded.acceptInvitation({ invitationID })).error?.code, 'answering again after the reload (the reloaded store no longer has it)').to.equal('NOT_FOUND');
  });
});

describe('#8.8 lifecycle in a real page: the database of an abandoned connectUser', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('#8.8 disconnectUser while connectUser opens IndexedDB closes that database', async () => {
    let opened = 0;
    let closed = 0;
    const counting: OpenStore = async (name, owner) => {
      const inner = await openIndexedDbStore(name, owner);
      opened += 1;
      return {
        ...inner,
        close() {
          closed += 1;
          inner.close();
        },
      };
    };
    const id = uniqueId('bob');
    const databaseName = `test:${id}`;
    const plugin = await harness.plugin({ storage: counting, databaseName });
    const connecting = plugin.connectUser({ id, name: 'Bob' }).then(() => 'resolved', (error: unknown) => (isInvitationError(error) ? error.code : String(error)));
    await plugin.disconnectUser();
    expect(await connecting).to.equal('DISPOSED');
    await waitUntil(() => closed > 0, '#8.8 the abandoned database closed');
    expect({ opened, closed }).to.deep.equal({ opened: 1, closed: 1 });
    expect(await deleteReportingBlocked(databaseName)).to.equal('deleted');
  });
});

describe('#8.11 lifecycle: a page that goes away and comes back gets what waited for it', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());
  /** The production timings: the wait under test is `connectTimeoutMs` and the ack timeout, so nothing is shortened. */
  const delivery = { ...DEFAULT_DELIVERY };
  const peerPageUrl = () => new URL('/test/fixtures/peer-page.html', location.href).href;

  async function comeBack(handle: number, id: string, options: object): Promise<void> {
    await pageCommand({ action: 'goto', handle, url: peerPageUrl() });
    await pageCommand({ action: 'waitFor', handle, expression: 'window.testPeer !== undefined' });
    await pageEvaluate(handle, `window.testPeer.connect(${JSON.stringify(id)}, ${JSON.stringify(options)})`);
  }

  for (const expireTimeoutMs of [3000, 5000]) {
    it(`#8.11 an answer reaches an inviter whose page comes back (expire_timeout ${expireTimeoutMs} ms)`, async () => {
      const peer = await extraPeerServerOptions(expireTimeoutMs);
      const bob = await harness.user('bob', { peer, delivery });
      const aliceId = uniqueId('alice');
      const options = { peer, delivery, databaseName: `test:${aliceId}` };
      const alicePage = await harness.peerPage(aliceId, { options });
      const rings = next(bob.plugin.invitationReceived$);
      const invitationID = await pageEvaluate<string>(alicePage, `window.testPeer.send(${JSON.stringify(invite([bob.id], 60))})`);
      await rings;
      await pageCommand({ action: 'waitFor', handle: alicePage, expression: `window.testPeer.events.some((e) => e.event === 'state' && e.value.state === 'delivered')` });

      await pageCommand({ action: 'goto', handle: alicePage, url: 'about:blank' });
      expect((await bob.plugin.acceptInvitation({ invitationID })).error).to.equal(undefined);
      await comeBack(alicePage, aliceId, options);
      const connectedAt = await pageEvaluate<number>(alicePage, 'window.testPeer.connectedAt');
      const accepted = await pageWaitFor(alicePage, 'accepted', invitationID, GENEROUS_MS);
      const waitedMs = accepted.at - connectedAt;
      console.log(`#8.11 expire_timeout ${expireTimeoutMs} ms: invitationAccepted$ ${waitedMs.toFixed(0)} ms after the returning inviter's connectUser resolved`);
      expect(await pageEvents(alicePage, 'accepted', invitationID)).to.have.length(1);
    });

    it(`#8.11 an invite reaches an invitee whose page comes back (expire_timeout ${expireTimeoutMs} ms)`, async () => {
      const peer = await extraPeerServerOptions(expireTimeoutMs);
      const alice = await harness.user('alice', { peer, delivery });
      const bobId = uniqueId('bob');
      const options = { peer, delivery, databaseName: `test:${bobId}` };
      const bobPage = await harness.peerPage(bobId, { options });
      // A connection that was open and used, so that it dangles once the page goes.
      const warmUp = await alice.plugin.sendInvitation(invite([bobId], 60));
      await pageWaitFor(bobPage, 'received', warmUp.invitationID, GENEROUS_MS);

      await pageCommand({ action: 'goto', handle: bobPage, url: 'about:blank' });
      const { invitationID, error } = await alice.plugin.sendInvitation(invite([bobId], 60));
      expect(error).to.equal(undefined);
      await comeBack(bobPage, bobId, options);
      const connectedAt = await pageEvaluate<number>(bobPage, 'window.testPeer.connectedAt');
      const received = await pageWaitFor(bobPage, 'received', invitationID, GENEROUS_MS);
      const waitedMs = received.at - connectedAt;
      console.log(`#8.11 expire_timeout ${expireTimeoutMs} ms: invitationReceived$ ${waitedMs.toFixed(0)} ms after the returning invitee's connectUser resolved`);
      expect(await pageEvents(bobPage, 'received', invitationID)).to.have.length(1);
    });
  }
});
