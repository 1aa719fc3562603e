/**
 * The benchmark page: the plugin against raw PeerJS, measured in the same run
 * against the local PeerServer, interleaved rep by rep, both ends in this one
 * Chromium page (in a second tab for `twoTabs`). scripts/bench.mjs bundles and
 * serves it, then calls `window.bench.run(section, params)` once per section;
 * each section returns raw samples (ms, or rates) and Node computes the statistics.
 *
 * Every section owns a `Scope`: plugins, raw Peers, databases and subscriptions
 * are released in its `close`, whatever happened.
 */
import { deleteDB, openDB } from 'idb';
import { Peer, type DataConnection } from 'peerjs';
import { Subscription, type Observable } from 'rxjs';
import { DEFAULT_LIMITS } from '../../src/options.js';
import {
  PROTOCOL_VERSION,
  createSignalingPlugin,
  type DeliveryOptions,
  type LimitOptions,
  type PeerServerOptions,
  type SendInvitationResult,
  type SignalingPlugin,
  type SignalingPluginOptions,
} from '../../src/index.js';

declare global {
  interface Window {
    bench: { run(section: string, params?: Record<string, unknown>): Promise<unknown> };
    /** Installed by index.html before any module runs. */
    benchPeerConnections(): { open: number; tracked: number };
    /** Exposed by scripts/bench.mjs: collects garbage over CDP, then reads the JS heap. */
    benchHeap?(): Promise<{ usedSize: number; totalSize: number }>;
  }
}

const query = new URLSearchParams(location.search);
const PEER: PeerServerOptions = {
  host: '127.0.0.1',
  port: Number(query.get('peerPort') ?? 9100),
  path: '/peerjs',
  config: { iceServers: [] },
  debug: 0,
};
/** Short keep-alive and memory of answered invitations, so sections clean up quickly; the rest are the defaults. */
const BENCH_DELIVERY: DeliveryOptions = { heartbeatIntervalMs: 1000, retentionMs: 2000 };
/** The bench sends thousands of invitations a second between two friendly peers: no flood limits, except in the flood section. */
const BENCH_LIMITS: LimitOptions = {
  maxLiveInvitationsPerInviter: Infinity,
  maxStoredInvitations: Infinity,
  maxStoredBytes: Infinity,
  maxMessagesPerSecond: Infinity,
};
/** Invitation `data`, and the raw messages' equivalent field: the same length everywhere. */
const DATA_LENGTH = 200;

// ---- small tools -----------------------------------------------------------

let counter = 0;
function uniqueId(section: string): string {
  counter += 1;
  return `bench-${section}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Invitation data tagged so a rep finds its own invitation; always DATA_LENGTH long. */
function tagged(tag: string): string {
  return tag.padEnd(DATA_LENGTH, '.');
}

/** As long as the bench's user ids, which the plugin's invitation ids start with. */
const RAW_INVITER_PREFIX = 'bench-raw-00-xxxxx';

/** What the plugin writes for an invitation, field for field: raw PeerJS sends this, so both carry the same bytes. */
function rawInvite(data: string): Record<string, unknown> {
  return { v: PROTOCOL_VERSION, kind: 'invite', invitationID: `${RAW_INVITER_PREFIX}:${crypto.randomUUID()}`, inviterName: 'Bench', type: 1, data, remainingMs: 30_000 };
}

function rawAccept(invitationID: unknown): Record<string, unknown> {
  return { v: PROTOCOL_VERSION, kind: 'accept', invitationID, data: '', remainingMs: 29_000 };
}

/** What the plugin's invitee sends back for an invite it does not answer yet. */
function rawAck(invitationID: unknown): Record<string, unknown> {
  return { v: 1, kind: 'ack', of: 'invite', invitationID };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Times one raw PeerJS exchange: `arm(done)` installs the data handler that calls
 * `done()` on the awaited arrival, then `send()` starts the clock. A lost frame
 * rejects after `ms`, so the section fails instead of hanging.
 */
function timeRaw(arm: (done: () => void) => void, send: () => void, what: string, ms = 10_000): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms);
    let start = 0;
    arm(() => {
      const at = performance.now();
      clearTimeout(timer);
      resolve(at - start);
    });
    start = performance.now();
    send();
  });
}

/** Polls `condition` every 2 ms; used between reps, never inside a timed span. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await sleep(2);
  }
}

/** When the first matching value arrives (subscribe before acting). */
function when<T>(source: Observable<T>, predicate: (value: T) => boolean, ms: number, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const subscription = new Subscription();
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`${what}: nothing within ${ms} ms`));
    }, ms);
    subscription.add(
      source.subscribe((value) => {
        if (!predicate(value)) return;
        const at = performance.now();
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(at);
      }),
    );
  });
}

function checkSent(result: SendInvitationResult): string {
  if (result.error) throw new Error(`sendInvitation failed: ${result.error.code} ${result.error.message}`);
  return result.invitationID;
}

/** Runs the two measurements alternately, swapping which goes first, so drift hits both alike. */
async function interleave(reps: number, warmup: number, plugin: () => Promise<number>, raw: () => Promise<number>) {
  for (let i = 0; i < warmup; i++) {
    await plugin();
    await raw();
  }
  const samples = { plugin: [] as number[], raw: [] as number[] };
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      samples.plugin.push(await plugin());
      samples.raw.push(await raw());
    } else {
      samples.raw.push(await raw());
      samples.plugin.push(await plugin());
    }
  }
  return samples;
}

/** `count` things made `batch` at a time, so the PeerServer is not flooded with registrations. */
async function inBatches<T>(count: number, make: () => Promise<T>, batch = 10): Promise<T[]> {
  const made: T[] = [];
  while (made.length < count) made.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - made.length) }, make))));
  return made;
}

// ---- plugins and raw peers ---------------------------------------------------

interface BenchUser {
  plugin: SignalingPlugin;
  id: string;
  databaseName: string | undefined;
}

function openRawPeer(id: string, ms = 15_000): Promise<Peer> {
  return new Promise<Peer>((resolve, reject) => {
    const peer = new Peer(id, { ...PEER });
    const finish = (error?: Error) => {
      clearTimeout(timer);
      peer.off('open', onOpen);
      peer.off('error', onError);
      if (!error) return resolve(peer);
      peer.destroy();
      reject(error);
    };
    const onOpen = () => finish();
    const onError = (error: { type: string }) => finish(new Error(`raw peer ${id}: ${error.type}`));
    const timer = setTimeout(() => finish(new Error(`raw peer ${id} did not open within ${ms} ms`)), ms);
    peer.on('open', onOpen);
    peer.on('error', onError);
  });
}

/** A reliable JSON connection from `from` to `to`, open at both ends. */
async function rawLink(from: Peer, to: Peer): Promise<{ out: DataConnection; inbound: DataConnection }> {
  const inbound = new Promise<DataConnection>((resolve) => {
    const onConnection = (connection: DataConnection) => {
      if (connection.peer !== from.id) return;
      to.off('connection', onConnection);
      connection.once('open', () => resolve(connection));
    };
    to.on('connection', onConnection);
  });
  const out = from.connect(to.id, { reliable: true, serialization: 'json' });
  await within(new Promise<void>((resolve) => out.once('open', () => resolve())), 15_000, 'raw connection open');
  return { out, inbound: await within(inbound, 15_000, 'raw inbound connection open') };
}

class Scope {
  private readonly plugins = new Set<SignalingPlugin>();
  private readonly databases = new Set<string>();
  private readonly peers = new Set<Peer>();
  readonly subscriptions = new Subscription();

  constructor(private readonly section: string) {}

  id(): string {
    return uniqueId(this.section);
  }

  /** A plugin not yet connected: subscribe first, then `connectUser`. */
  create(options: SignalingPluginOptions = {}, id = this.id()): BenchUser {
    const durable = (options.storage ?? 'indexeddb') === 'indexeddb';
    const databaseName = durable ? `bench:${id}` : undefined;
    const plugin = createSignalingPlugin({
      peer: PEER,
      ...options,
      ...(databaseName ? { databaseName } : {}),
      delivery: { ...BENCH_DELIVERY, ...options.delivery },
      limits: { ...BENCH_LIMITS, ...options.limits },
    });
    this.plugins.add(plugin);
    if (databaseName) this.databases.add(databaseName);
    return { plugin, id, databaseName };
  }

  async plugin(options: SignalingPluginOptions = {}): Promise<BenchUser> {
    const user = this.create(options);
    await user.plugin.connectUser({ id: user.id, name: user.id });
    return user;
  }

  async release(user: BenchUser): Promise<void> {
    this.plugins.delete(user.plugin);
    await user.plugin.dispose();
    if (user.databaseName) {
      this.databases.delete(user.databaseName);
      await removeDatabase(user.databaseName);
    }
  }

  async rawPeer(id = this.id()): Promise<Peer> {
    const peer = await openRawPeer(id);
    this.peers.add(peer);
    return peer;
  }

  releasePeer(peer: Peer): void {
    this.peers.delete(peer);
    peer.destroy();
  }

  async close(): Promise<void> {
    this.subscriptions.unsubscribe();
    for (const peer of this.peers) peer.destroy();
    this.peers.clear();
    await Promise.all([...this.plugins].map((plugin) => plugin.dispose()));
    this.plugins.clear();
    await Promise.all([...this.databases].map(removeDatabase));
    this.databases.clear();
  }
}

/** Deletes a database; a connection left open would block it forever, so give up after a while. */
async function removeDatabase(name: string): Promise<void> {
  await within(deleteDB(name), 5000, `deleting database ${name}`).catch(() => {});
}

function invite(from: BenchUser, invitees: readonly string[], data: string, timeout = 30, type = 1): Promise<SendInvitationResult> {
  return from.plugin.sendInvitation({ inviterName: 'Bench', invitees, timeout, type, data });
}

/** Nothing owed either way: every message of the last rep was acknowledged. */
function quiet(...users: BenchUser[]): Promise<void> {
  return until(() => users.every((user) => user.plugin.stats().pendingDeliveries === 0), 15_000, 'acknowledgements');
}

// ---- 1 and 2: warm delivery and warm round trip -------------------------------

async function warm({ reps = 200, warmup = 10, storages = ['indexeddb', 'memory'] }: { reps?: number; warmup?: number; storages?: ('indexeddb' | 'memory')[] }) {
  const scope = new Scope('warm');
  try {
    const rawA = await scope.rawPeer();
    const rawB = await scope.rawPeer();
    const { out, inbound } = await rawLink(rawA, rawB);
    let onA: ((frame: unknown) => void) | undefined;
    let onB: ((frame: unknown) => void) | undefined;
    out.on('data', (frame) => onA?.(frame));
    inbound.on('data', (frame) => onB?.(frame));
    let n = 0;

    const rawDelivery = () => {
      const message = rawInvite(tagged(`delivery-${n++}`));
      const arm = (done: () => void) => {
        onB = () => {
          onB = undefined;
          done();
        };
      };
      return timeRaw(arm, () => out.send(message), 'raw warm delivery');
    };
    const rawRoundTrip = () => {
      const message = rawInvite(tagged(`roundtrip-${n++}`));
      const arm = (done: () => void) => {
        onB = (frame) => {
          onB = undefined;
          inbound.send(rawAccept((frame as { invitationID?: unknown }).invitationID));
        };
        onA = () => {
          onA = undefined;
          done();
        };
      };
      return timeRaw(arm, () => out.send(message), 'raw round trip');
    };

    const results: Record<string, { delivery: { plugin: number[]; raw: number[] }; roundTrip: { plugin: number[]; raw: number[] } }> = {};
    for (const storage of storages) {
      const inviter = await scope.plugin({ storage });
      const invitee = await scope.plugin({ storage });
      let accepting = false;
      scope.subscriptions.add(
        invitee.plugin.invitationReceived$.subscribe(({ invitationID }) => {
          if (accepting) void invitee.plugin.acceptInvitation({ invitationID });
        }),
      );
      const pluginDelivery = async () => {
        const data = tagged(`delivery-${n++}`);
        const received = when(invitee.plugin.invitationReceived$, (event) => event.data === data, 10_000, 'warm delivery');
        const start = performance.now();
        const sent = invite(inviter, [invitee.id], data);
        const at = await received;
        checkSent(await sent);
        await quiet(inviter, invitee);
        return at - start;
      };
      const pluginRoundTrip = async () => {
        const data = tagged(`roundtrip-${n++}`);
        const accepted = when(inviter.plugin.invitationAccepted$, () => true, 10_000, 'warm round trip');
        const start = performance.now();
        const sent = invite(inviter, [invitee.id], data);
        const at = await accepted;
        checkSent(await sent);
        await quiet(inviter, invitee);
        return at - start;
      };
      const delivery = await interleave(reps, warmup, pluginDelivery, rawDelivery);
      accepting = true;
      const roundTrip = await interleave(reps, warmup, pluginRoundTrip, rawRoundTrip);
      results[storage] = { delivery, roundTrip };
      await scope.release(inviter);
      await scope.release(invitee);
    }
    return { reps, warmup, dataLength: DATA_LENGTH, results };
  } finally {
    await scope.close();
  }
}

// ---- 1 and 2 again, with the invitee in a second tab ------------------------------------
// One page runs both ends on one main thread, so every millisecond either end spends counts
// twice. Here the invitees live in another tab (another renderer): Node calls `serve` there,
// `twoTabs` here, then `collect` there. Delivery is measured across the two pages' clocks
// (performance.timeOrigin + now()); the round trip on this page's clock alone.

/** Invitations and raw messages of this type are answered (accepted) by the serving tab. */
const ROUND_TRIP_TYPE = 2;

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

let served: { scope: Scope; arrivals: Record<string, number> } | undefined;

async function serve({ pluginId, rawId }: { pluginId: string; rawId: string }) {
  const scope = new Scope('tab');
  const arrivals: Record<string, number> = {};
  served = { scope, arrivals };
  const invitee = scope.create({}, pluginId);
  scope.subscriptions.add(
    invitee.plugin.invitationReceived$.subscribe(({ data, type, invitationID }) => {
      arrivals[data] = wallNow();
      if (type === ROUND_TRIP_TYPE) void invitee.plugin.acceptInvitation({ invitationID });
    }),
  );
  await invitee.plugin.connectUser({ id: pluginId, name: pluginId });
  const peer = await scope.rawPeer(rawId);
  peer.on('connection', (connection) =>
    connection.on('data', (frame) => {
      const message = frame as { data?: unknown; type?: unknown; invitationID?: unknown };
      arrivals[String(message.data)] = wallNow();
      connection.send(message.type === ROUND_TRIP_TYPE ? rawAccept(message.invitationID) : rawAck(message.invitationID));
    }),
  );
  return { pluginId, rawId };
}

async function collect() {
  if (!served) return {};
  const { scope, arrivals } = served;
  served = undefined;
  await scope.close();
  return arrivals;
}

async function twoTabs({ pluginInvitee, rawInvitee, reps = 200, warmup = 10 }: { pluginInvitee: string; rawInvitee: string; reps?: number; warmup?: number }) {
  const scope = new Scope('tabs');
  try {
    const inviter = await scope.plugin();
    const rawA = await scope.rawPeer();
    const out = rawA.connect(rawInvitee, { reliable: true, serialization: 'json' });
    await within(new Promise<void>((resolve) => out.once('open', () => resolve())), 15_000, 'raw connection to the other tab');
    let onA: (() => void) | undefined;
    out.on('data', () => onA?.());
    const starts = { plugin: [] as { data: string; start: number }[], raw: [] as { data: string; start: number }[] };
    let n = 0;

    const rawExchange = (data: string, type: number) => {
      const message = { ...rawInvite(data), type };
      const arm = (done: () => void) => {
        onA = () => {
          onA = undefined;
          done();
        };
      };
      return timeRaw(arm, () => out.send(message), 'raw exchange with the other tab');
    };
    // Delivery: the start here, the arrival there; the returned number is unused.
    const pluginDelivery = async () => {
      const data = tagged(`tab-delivery-${n++}`);
      starts.plugin.push({ data, start: wallNow() });
      checkSent(await invite(inviter, [pluginInvitee], data));
      await quiet(inviter);
      return 0;
    };
    const rawDelivery = async () => {
      const data = tagged(`tab-delivery-${n++}`);
      starts.raw.push({ data, start: wallNow() });
      await rawExchange(data, 1);
      return 0;
    };
    await interleave(reps, warmup, pluginDelivery, rawDelivery);

    const pluginRoundTrip = async () => {
      const data = tagged(`tab-roundtrip-${n++}`);
      const accepted = when(inviter.plugin.invitationAccepted$, () => true, 10_000, 'two-tab round trip');
      const start = performance.now();
      const sent = invite(inviter, [pluginInvitee], data, 30, ROUND_TRIP_TYPE);
      const at = await accepted;
      checkSent(await sent);
      await quiet(inviter);
      return at - start;
    };
    const rawRoundTrip = () => rawExchange(tagged(`tab-roundtrip-${n++}`), ROUND_TRIP_TYPE);
    const roundTrip = await interleave(reps, warmup, pluginRoundTrip, rawRoundTrip);
    return { reps, warmup, starts: { plugin: starts.plugin.slice(warmup), raw: starts.raw.slice(warmup) }, roundTrip };
  } finally {
    await scope.close();
  }
}

// ---- one user in several tabs -------------------------------------------------
// Node opens tabs of this browser profile that connect as one user: the first holds the
// PeerServer registration, the others work through it (README, "Several tabs of one user").
// `userTab` runs in each of them and records when each invitation rang there; this page
// sends (`tabsSend`). Times cross pages: wallNow(), fine-grained on a cross-origin
// isolated page.

let userTab: { scope: Scope; arrivals: Record<string, number> } | undefined;

async function userTabServe({ userId }: { userId: string }) {
  const scope = new Scope('user-tab');
  const arrivals: Record<string, number> = {};
  userTab = { scope, arrivals };
  // Read by Node's waitForFunction, which wants a synchronous answer.
  (window as unknown as { userTabArrivals: Record<string, number> }).userTabArrivals = arrivals;
  const tab = scope.create({}, userId);
  scope.subscriptions.add(tab.plugin.invitationReceived$.subscribe(({ data }) => (arrivals[data] = wallNow())));
  await tab.plugin.connectUser({ id: userId, name: userId });
  return { crossOriginIsolated, timerResolutionMs: timerResolution() };
}

async function userTabArrival({ data }: { data: string }): Promise<number | null> {
  return userTab?.arrivals[data] ?? null;
}

async function userTabClose() {
  await userTab?.scope.close();
  userTab = undefined;
}

let tabsInviter: { scope: Scope; inviter: BenchUser; last?: string } | undefined;

/**
 * Sends one invitation from this page's inviter (made on first use); resolves with its start
 * time. The one sent before is canceled first: an invitee lets few ring from one inviter.
 */
async function tabsSend({ invitee, data }: { invitee: string; data: string }): Promise<number> {
  if (!tabsInviter) {
    const scope = new Scope('tabs-inviter');
    tabsInviter = { scope, inviter: await scope.plugin() };
  }
  if (tabsInviter.last) await tabsInviter.inviter.plugin.cancelInvitation({ invitationID: tabsInviter.last });
  const start = wallNow();
  tabsInviter.last = checkSent(await invite(tabsInviter.inviter, [invitee], data));
  return start;
}

async function tabsInviterClose() {
  await tabsInviter?.scope.close();
  tabsInviter = undefined;
}

/** The smallest step `performance.now()` takes here: about 5 µs when cross-origin isolated, 100 µs otherwise. */
function timerResolution(): number {
  let smallest = Infinity;
  for (let sample = 0; sample < 20; sample += 1) {
    const first = performance.now();
    let next = performance.now();
    while (next === first) next = performance.now();
    smallest = Math.min(smallest, next - first);
  }
  return smallest;
}

// ---- 3: cold delivery -----------------------------------------------------------

async function cold({ reps = 20, warmup = 2 }: { reps?: number; warmup?: number }) {
  const scope = new Scope('cold');
  try {
    const inviter = await scope.plugin();
    const rawA = await scope.rawPeer();
    let n = 0;

    const pluginCold = async () => {
      const invitee = await scope.plugin();
      const data = tagged(`cold-${n++}`);
      const received = when(invitee.plugin.invitationReceived$, (event) => event.data === data, 20_000, 'cold delivery');
      const start = performance.now();
      const sent = invite(inviter, [invitee.id], data, 10);
      const at = await received;
      checkSent(await sent);
      await quiet(inviter, invitee);
      await scope.release(invitee);
      return at - start;
    };
    const rawCold = async () => {
      const invitee = await scope.rawPeer();
      const message = rawInvite(tagged(`cold-${n++}`));
      const received = new Promise<number>((resolve) => {
        invitee.on('connection', (connection) => connection.on('data', () => resolve(performance.now())));
      });
      const start = performance.now();
      const out = rawA.connect(invitee.id, { reliable: true, serialization: 'json' });
      out.on('open', () => out.send(message));
      const at = await within(received, 20_000, 'raw cold delivery');
      out.close();
      scope.releasePeer(invitee);
      return at - start;
    };
    return { reps, warmup, ...(await interleave(reps, warmup, pluginCold, rawCold)) };
  } finally {
    await scope.close();
  }
}

// ---- 4: fan-out -------------------------------------------------------------------

interface FanOutResult {
  size: number;
  cold: { plugin: number[]; raw: number[] };
  warm: { plugin: number[]; raw: number[] };
  /** RTCPeerConnections still open after each rep released its invitees (the inviters' stay). */
  peerConnectionsLeft: number[];
}

async function fanout({ sizes = [1, 10, 50], coldReps = 3, warmReps = 20, warmup = 3 }: { sizes?: number[]; coldReps?: number; warmReps?: number; warmup?: number }) {
  const scope = new Scope('fan');
  try {
    const inviter = await scope.plugin();
    const rawA = await scope.rawPeer();
    const results: FanOutResult[] = [];
    let n = 0;

    for (const size of sizes) {
      const result: FanOutResult = { size, cold: { plugin: [], raw: [] }, warm: { plugin: [], raw: [] }, peerConnectionsLeft: [] };
      for (let rep = 0; rep < coldReps; rep++) {
        const invitees = await inBatches(size, () => scope.plugin({ storage: 'memory' }));
        const ids = invitees.map((invitee) => invitee.id);
        const rawInvitees = await inBatches(size, () => scope.rawPeer());
        let onRawData: (() => void) | undefined;
        for (const peer of rawInvitees) peer.on('connection', (connection) => connection.on('data', () => onRawData?.()));

        const pluginFan = async () => {
          const data = tagged(`fan-${n++}`);
          const subscription = new Subscription();
          let remaining = size;
          const all = new Promise<number>((resolve) => {
            for (const invitee of invitees) {
              subscription.add(
                invitee.plugin.invitationReceived$.subscribe((event) => {
                  if (event.data === data && --remaining === 0) resolve(performance.now());
                }),
              );
            }
          });
          const start = performance.now();
          const sent = invite(inviter, ids, data);
          const at = await within(all, 30_000, `fan-out to ${size}`).finally(() => subscription.unsubscribe());
          checkSent(await sent);
          await quiet(inviter);
          return at - start;
        };
        /** Waits for `size` raw messages after `send` ran. */
        const rawFan = (send: () => void) =>
          new Promise<number>((resolve, reject) => {
            let remaining = size;
            const timer = setTimeout(() => reject(new Error(`raw fan-out to ${size} timed out`)), 30_000);
            let start = 0;
            onRawData = () => {
              if (--remaining > 0) return;
              const at = performance.now();
              clearTimeout(timer);
              onRawData = undefined;
              resolve(at - start);
            };
            start = performance.now();
            send();
          });

        const outs: DataConnection[] = [];
        const rawCold = () =>
          rawFan(() => {
            const message = rawInvite(tagged(`fan-${n++}`));
            for (const peer of rawInvitees) {
              const out = rawA.connect(peer.id, { reliable: true, serialization: 'json' });
              out.on('open', () => out.send(message));
              outs.push(out);
            }
          });
        // Alternate which side goes first, as interleave() does.
        if (rep % 2 === 0) {
          result.cold.plugin.push(await pluginFan());
          result.cold.raw.push(await rawCold());
        } else {
          result.cold.raw.push(await rawCold());
          result.cold.plugin.push(await pluginFan());
        }

        if (rep === 0) {
          const rawWarm = () =>
            rawFan(() => {
              const message = rawInvite(tagged(`fan-${n++}`));
              for (const out of outs) out.send(message);
            });
          const warm = await interleave(warmReps, warmup, pluginFan, rawWarm);
          result.warm = warm;
        }

        for (const out of outs) out.close();
        for (const peer of rawInvitees) scope.releasePeer(peer);
        await Promise.all(invitees.map((invitee) => scope.release(invitee)));
        result.peerConnectionsLeft.push(await settledPeerConnections());
        // Closed RTCPeerConnections count towards Chromium's cap of 500 until they are garbage
        // collected, and a rep at N=50 creates 200 of them: collect before the next.
        await readHeap();
      }
      results.push(result);
    }
    return { coldReps, warmReps, warmup, inviteeStorage: 'memory', results };
  } finally {
    await scope.close();
  }
}

// ---- 5: redelivery to an invitee that comes online, and the cost of waiting ------------

async function redelivery({ reps = 10, spreadMs = 3900, firstMs = 1500, attemptsWindowMs = 30_000 }: { reps?: number; spreadMs?: number; firstMs?: number; attemptsWindowMs?: number }) {
  const scope = new Scope('redeliver');
  try {
    // Beside the reps, on its own plugin: one invitation queued for an id that never comes.
    const attempts = (async () => {
      const lone = await scope.plugin();
      const before = lone.plugin.stats().connectAttempts;
      const start = performance.now();
      checkSent(await invite(lone, [scope.id()], tagged('never-online'), 120));
      await sleep(attemptsWindowMs);
      const after = lone.plugin.stats().connectAttempts;
      const windowMs = performance.now() - start;
      return { before, after, windowMs, perMinute: ((after - before) * 60_000) / windowMs, pendingDeliveries: lone.plugin.stats().pendingDeliveries };
    })();

    // A parked offer lasts PeerServer's expire_timeout, then the capped backoff: the arrivals are
    // spread over that cycle without the section taking reps × cycles.
    const inviter = await scope.plugin();
    const arrivals = await comeOnlineOneByOne(scope, inviter, { reps, firstMs, spreadMs, tag: 'queued', timeout: 120 });
    await quiet(inviter);
    return {
      reps,
      ...arrivals,
      attempts: await attempts,
      delivery: 'defaults, except heartbeatIntervalMs 1000 and retentionMs 2000',
    };
  } finally {
    await scope.close();
  }
}

/**
 * Invites `reps` users who are offline, all at once; each comes online at its own time,
 * `spreadMs` apart, so that the arrivals fall at different points of the inviter's retry
 * cycle. Returns how soon each received its invitation after its `connectUser` resolved.
 */
async function comeOnlineOneByOne(
  scope: Scope,
  inviter: BenchUser,
  { reps, firstMs, spreadMs, tag, timeout, peer }: { reps: number; firstMs: number; spreadMs: number; tag: string; timeout: number; peer?: PeerServerOptions },
): Promise<{ samples: number[]; offlineMs: number[] }> {
  const invitees = Array.from({ length: reps }, (_, rep) => ({ id: scope.id(), data: tagged(`${tag}-${rep}`), offlineMs: firstMs + rep * spreadMs }));
  for (const { id, data } of invitees) checkSent(await invite(inviter, [id], data, timeout));
  const invitedAt = performance.now();
  const arrivals = await Promise.all(
    invitees.map(async ({ id, data, offlineMs }) => {
      await sleep(invitedAt + offlineMs - performance.now());
      const invitee = scope.create(peer ? { peer } : {}, id);
      const received = when(invitee.plugin.invitationReceived$, (event) => event.data === data, 30_000, `${tag} redelivery`);
      await invitee.plugin.connectUser({ id, name: id });
      const connected = performance.now();
      const at = await received;
      return { offlineMs: connected - invitedAt, latencyMs: at - connected };
    }),
  );
  return { samples: arrivals.map((arrival) => arrival.latencyMs), offlineMs: arrivals.map((arrival) => arrival.offlineMs) };
}

// ---- 5b: the companion server's mailbox ------------------------------------------------

/**
 * Section 5 again against the companion server (`peerPort`), which parks an offer for an
 * offline id for 60 s instead of 5 s, with the plugin's default connectTimeoutMs (65 s):
 * when each connection attempt to one queued offline invitee starts, and how soon invitees
 * that come online at different points of the wait receive their invitation.
 */
async function mailbox({ peerPort, reps = 6, firstMs = 1500, spreadMs = 9000, windowMs = 66_000 }: { peerPort: number; reps?: number; firstMs?: number; spreadMs?: number; windowMs?: number }) {
  const peer = { ...PEER, port: peerPort };
  const scope = new Scope('mailbox');
  try {
    const attempts = (async () => {
      const lone = await scope.plugin({ peer });
      let seen = lone.plugin.stats().connectAttempts;
      const start = performance.now();
      const startsMs: number[] = [];
      checkSent(await invite(lone, [scope.id()], tagged('never-online'), 300));
      // Polled, not observed: the plugin reports attempts only through stats().
      while (performance.now() - start < windowMs) {
        for (const now = lone.plugin.stats().connectAttempts; seen < now; seen++) startsMs.push(performance.now() - start);
        await sleep(100);
      }
      return { startsMs, windowMs: performance.now() - start };
    })();

    const inviter = await scope.plugin({ peer });
    const arrivals = await comeOnlineOneByOne(scope, inviter, { reps, firstMs, spreadMs, tag: 'parked', timeout: 300, peer });
    await quiet(inviter);
    return {
      reps,
      ...arrivals,
      attempts: await attempts,
      delivery: 'defaults (connectTimeoutMs 65000), except heartbeatIntervalMs 1000 and retentionMs 2000',
    };
  } finally {
    await scope.close();
  }
}

// ---- 6: throughput -------------------------------------------------------------------

interface ThroughputRun {
  /** Invitations received by the invitee per second, from the first sendInvitation call. */
  rate: number;
  receivedMs: number;
  /** Until every sendInvitation promise resolved (saved). */
  savedMs: number;
  /** Until the inviter holds every ack. */
  ackedMs: number;
}

async function throughput({ count = 1000, reps = 3, rawRunsPerRep = 3 }: { count?: number; reps?: number; rawRunsPerRep?: number }) {
  const scope = new Scope('tput');
  try {
    const plugin: Record<'indexeddb' | 'memory', ThroughputRun[]> = { indexeddb: [], memory: [] };
    const raw: { rate: number; receivedMs: number }[] = [];
    let n = 0;

    const rawA = await scope.rawPeer();
    const rawB = await scope.rawPeer();
    const { out, inbound } = await rawLink(rawA, rawB);
    let onB: (() => void) | undefined;
    inbound.on('data', () => onB?.());
    const rawRun = () => {
      let remaining = count;
      const messages = Array.from({ length: count }, () => rawInvite(tagged(`tput-${n++}`)));
      const arm = (done: () => void) => {
        onB = () => {
          if (--remaining > 0) return;
          onB = undefined;
          done();
        };
      };
      return timeRaw(arm, () => messages.forEach((message) => out.send(message)), 'raw throughput', 60_000);
    };

    await rawRun();
    for (let rep = 0; rep < reps; rep++) {
      for (const storage of ['indexeddb', 'memory'] as const) {
        const inviter = await scope.plugin({ storage });
        const invitee = await scope.plugin({ storage });
        const opened = tagged(`tput-open-${n++}`);
        const warmedUp = when(invitee.plugin.invitationReceived$, (event) => event.data === opened, 15_000, 'throughput warm-up');
        checkSent(await invite(inviter, [invitee.id], opened, 120));
        await warmedUp;
        await quiet(inviter, invitee);

        let remaining = count;
        const subscription = new Subscription();
        const all = new Promise<number>((resolve) => {
          subscription.add(
            invitee.plugin.invitationReceived$.subscribe(() => {
              if (--remaining === 0) resolve(performance.now());
            }),
          );
        });
        const datas = Array.from({ length: count }, () => tagged(`tput-${n++}`));
        const start = performance.now();
        const sends = datas.map((data) => invite(inviter, [invitee.id], data, 120));
        const saved = Promise.all(sends).then((results) => {
          results.forEach(checkSent);
          return performance.now();
        });
        const receivedAt = await within(all, 60_000, `throughput (${storage})`).finally(() => subscription.unsubscribe());
        const savedAt = await within(saved, 60_000, `throughput saves (${storage})`);
        await until(() => inviter.plugin.stats().pendingDeliveries === 0, 60_000, `throughput acks (${storage})`);
        const ackedAt = performance.now();
        plugin[storage].push({ rate: (count * 1000) / (receivedAt - start), receivedMs: receivedAt - start, savedMs: savedAt - start, ackedMs: ackedAt - start });
        await scope.release(inviter);
        await scope.release(invitee);
      }
      for (let run = 0; run < rawRunsPerRep; run++) {
        const receivedMs = await rawRun();
        raw.push({ rate: (count * 1000) / receivedMs, receivedMs });
      }
    }
    return { count, reps, rawRunsPerRep, plugin, raw };
  } finally {
    await scope.close();
  }
}

// ---- 8: memory ---------------------------------------------------------------------------

async function memory({ count = 1000, rounds = 2, batch = 20 }: { count?: number; rounds?: number; batch?: number }) {
  const scope = new Scope('mem');
  try {
    const inviter = await scope.plugin();
    const invitee = await scope.plugin();
    scope.subscriptions.add(invitee.plugin.invitationReceived$.subscribe(({ invitationID }) => void invitee.plugin.acceptInvitation({ invitationID })));
    const accepted = new Set<string>();
    scope.subscriptions.add(inviter.plugin.invitationAccepted$.subscribe(({ invitationID }) => accepted.add(invitationID)));
    const timeout = 5;

    const roundTrip = async (data: string) => {
      const invitationID = checkSent(await invite(inviter, [invitee.id], data, timeout));
      await until(() => accepted.delete(invitationID), 10_000, 'memory round trip');
    };
    /** Waits until both plugins forgot every invitation (deadline + retentionMs), then reads the heap. */
    const snapshot = async (invitations: number) => {
      await until(
        () => [inviter, invitee].every((user) => user.plugin.stats().invitations === 0 && user.plugin.stats().pendingDeliveries === 0),
        (timeout + 10) * 1000,
        'invitations purged',
      );
      const heap = await readHeap();
      return {
        invitations,
        heapUsed: heap.usedSize,
        heapTotal: heap.totalSize,
        peerConnections: window.benchPeerConnections().open,
        inviter: inviter.plugin.stats(),
        invitee: invitee.plugin.stats(),
      };
    };

    let n = 0;
    await roundTrip(tagged(`mem-${n++}`));
    const snapshots = [await snapshot(0)];
    const roundMs: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const start = performance.now();
      for (let done = 0; done < count; done += batch) {
        await Promise.all(Array.from({ length: Math.min(batch, count - done) }, () => roundTrip(tagged(`mem-${n++}`))));
      }
      roundMs.push(performance.now() - start);
      snapshots.push(await snapshot(round * count));
    }

    const beforeDispose = window.benchPeerConnections().open;
    await scope.release(inviter);
    await scope.release(invitee);
    // Each end closes its own RTCPeerConnection; the other end's close arrives over the wire.
    await until(() => window.benchPeerConnections().open <= beforeDispose - 2, 5000, 'peer connections closed').catch(() => {});
    return { count, rounds, batch, timeoutSeconds: timeout, roundMs, snapshots, peerConnectionsAfterDispose: window.benchPeerConnections().open, peerConnectionsBeforeDispose: beforeDispose };
  } finally {
    await scope.close();
  }
}

/** Open RTCPeerConnections once closing has settled: the count stops falling for 500 ms (at most 5 s). */
async function settledPeerConnections(): Promise<number> {
  const deadline = performance.now() + 5000;
  let last = window.benchPeerConnections().open;
  while (performance.now() < deadline) {
    await sleep(500);
    const now = window.benchPeerConnections().open;
    if (now === last) break;
    last = now;
  }
  return last;
}

/** After a section: what is still open, and how many connection objects exist at all once garbage is collected. */
async function leftovers(): Promise<{ open: number; uncollected: number }> {
  const open = await settledPeerConnections();
  await readHeap();
  return { open, uncollected: window.benchPeerConnections().tracked };
}

async function readHeap(): Promise<{ usedSize: number; totalSize: number }> {
  if (window.benchHeap) return window.benchHeap();
  const memory = (performance as Performance & { memory?: { usedJSHeapSize: number; totalJSHeapSize: number } }).memory;
  return { usedSize: memory?.usedJSHeapSize ?? NaN, totalSize: memory?.totalJSHeapSize ?? NaN };
}

// ---- 9: a flood from one hostile peer --------------------------------------------------------

/**
 * An honest invitation's latency (send → invitationReceived$ at the victim) without a
 * flood, then while one raw PeerJS peer floods the victim with invites of 8 KB data and
 * cancels for made-up ids, as fast as its channel drains; then what the victim holds.
 * The victim keeps the default limits.
 */
async function flood({ invites = 1500, cancels = 1500, honestReps = 10, dataBytes = 8000 }: { invites?: number; cancels?: number; honestReps?: number; dataBytes?: number }) {
  const scope = new Scope('flood');
  try {
    const victim = await scope.plugin({ limits: DEFAULT_LIMITS });
    const honest = await scope.plugin();
    const rings: { inviter: string; at: number }[] = [];
    scope.subscriptions.add(
      victim.plugin.invitationReceived$.subscribe(({ inviter, invitationID }) => {
        rings.push({ inviter: inviter.id, at: performance.now() });
        // The victim answers the honest caller at once, so its own limit never bites.
        if (inviter.id === honest.id) void victim.plugin.refuseInvitation({ invitationID });
      }),
    );
    const honestLatency = async () => {
      const sentAt = performance.now();
      const arrived = when(victim.plugin.invitationReceived$, (event) => event.inviter.id === honest.id, 10_000, 'honest invitation');
      checkSent(await invite(honest, [victim.id], tagged('honest')));
      return (await arrived) - sentAt;
    };
    const without: number[] = [];
    for (let rep = 0; rep < honestReps; rep++) without.push(await honestLatency());

    const attacker = await scope.rawPeer();
    const connection = attacker.connect(victim.id, { reliable: true, serialization: 'json' });
    await within(new Promise<void>((resolve) => connection.once('open', () => resolve())), 15_000, 'attacker connection open');
    const payload = 'x'.repeat(dataBytes);
    const frames = function* () {
      for (let i = 0; i < invites; i++) yield { v: PROTOCOL_VERSION, kind: 'invite', invitationID: `${attacker.id}:${i}`, inviterName: 'Your bank', type: 1, data: payload, remainingMs: 600_000 };
      for (let i = 0; i < cancels; i++) yield { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: `${attacker.id}:c${i}`, data: '', remainingMs: 600_000 };
    };
    const floodStarted = performance.now();
    let written = 0;
    let cutOffAfterMs: number | undefined;
    connection.once('close', () => (cutOffAfterMs = performance.now() - floodStarted));
    const flooding = (async () => {
      for (const frame of frames()) {
        if (!connection.open) break;
        // Throttle on the channel's buffer, or the channel gives up and the flood is lost (BROWSER-TESTING.md, fact 13).
        while (connection.open && connection.dataChannel.bufferedAmount > 1 << 20) await sleep(1);
        if (!connection.open) break;
        connection.send(frame);
        written++;
      }
    })();
    const during: number[] = [];
    for (let rep = 0; rep < honestReps; rep++) during.push(await honestLatency());
    await flooding;
    await sleep(500);
    const heap = await readHeap();
    const stats = victim.plugin.stats();
    return {
      honest: { without, during },
      attacker: { framesOffered: invites + cancels, written, cutOffAfterMs: cutOffAfterMs ?? null, rang: rings.filter((ring) => ring.inviter === attacker.id).length },
      victim: { invitationsHeld: stats.invitations, storedBytes: await storedBytes(victim.databaseName!), heapUsedBytes: heap.usedSize },
    };
  } finally {
    await scope.close();
  }
}

// ---- 12b: delivery across two servers of a cluster -----------------------------------------

/**
 * Invitation delivery, end to end in this page, from a plugin on cluster server A to one on
 * server B (the connection's signaling crosses Redis) against one on A, interleaved. Cold:
 * each rep a new invitee, so a new connection is brokered. Warm: on an open connection,
 * where no server is involved at all (the data channel is peer to peer).
 */
async function clusterDelivery({ portA, portB, reps = 20, warmup = 2, warmReps = 100 }: { portA: number; portB: number; reps?: number; warmup?: number; warmReps?: number }) {
  const scope = new Scope('cluster');
  try {
    const onA = { ...PEER, port: portA };
    const onB = { ...PEER, port: portB };
    const inviter = await scope.plugin({ peer: onA });
    let n = 0;
    const deliver = async (invitee: BenchUser, what: string) => {
      const data = tagged(`cluster-${n++}`);
      const received = when(invitee.plugin.invitationReceived$, (event) => event.data === data, 20_000, what);
      const start = performance.now();
      const sent = invite(inviter, [invitee.id], data, 10);
      const at = await received;
      checkSent(await sent);
      await quiet(inviter, invitee);
      return at - start;
    };
    const coldOn = (peer: PeerServerOptions) => async () => {
      const invitee = await scope.plugin({ peer });
      const ms = await deliver(invitee, 'cluster cold delivery');
      await scope.release(invitee);
      return ms;
    };
    const cold = await interleave(reps, warmup, coldOn(onB), coldOn(onA));
    const acrossServers = await scope.plugin({ peer: onB });
    const sameServer = await scope.plugin({ peer: onA });
    const warm = await interleave(warmReps, warmup, () => deliver(acrossServers, 'cluster warm delivery'), () => deliver(sameServer, 'cluster warm delivery'));
    return { reps, warmReps, cold: { across: cold.plugin, within: cold.raw }, warm: { across: warm.plugin, within: warm.raw } };
  } finally {
    await scope.close();
  }
}

/** Bytes of what a plugin's IndexedDB database holds, as JSON. */
async function storedBytes(databaseName: string): Promise<number> {
  const db = await openDB(databaseName);
  try {
    const rows = db.objectStoreNames.contains('rows') ? await db.getAll('rows') : [];
    return rows.reduce((sum, row) => sum + JSON.stringify(row).length, 0);
  } finally {
    db.close();
  }
}

// ---- 13: advanced mode, a call-state change reaching every member ------------------------

/**
 * Four members in one call (IndexedDB storage, warm connections): one member quits or joins
 * again, and the time is until the three others have each emitted the new state on
 * `invitationUserStateChanged$`. The member that changes goes round, so every link is measured.
 */
async function callState({ samples = 30, warmup = 3 }: { samples?: number; warmup?: number }) {
  const scope = new Scope('callState');
  try {
    const members = [await scope.plugin(), await scope.plugin(), await scope.plugin(), await scope.plugin()];
    const [creator, ...invitees] = members;
    const sees = (watcher: BenchUser, id: string, state: string, what: string) =>
      when(watcher.plugin.invitationUserStateChanged$, (event) => event.users.some((user) => user.id === id && user.state === state), 10_000, what);
    const rang = invitees.map((invitee) => when(invitee.plugin.invitationReceived$, () => true, 10_000, 'ring into the call'));
    const allIn = members.flatMap((watcher) => members.filter((member) => member !== watcher).map((member) => sees(watcher, member.id, 'accepted', 'everyone joined')));
    const sent = await creator!.plugin.sendInvitation({ inviterName: 'Bench', invitees: invitees.map((invitee) => invitee.id), timeout: 60, type: 1, data: '', advancedMode: true });
    const callID = checkSent(sent);
    await Promise.all(rang);
    for (const invitee of invitees) {
      const { error } = await invitee.plugin.acceptInvitation({ invitationID: callID });
      if (error) throw error;
    }
    await Promise.all(allIn);
    const times: number[] = [];
    for (let i = 0; i < samples + warmup; i++) {
      // Each member in turn quits, then joins again: never more than one out, so the call lives on.
      const mover = members[Math.floor(i / 2) % members.length]!;
      const quitting = i % 2 === 0;
      const state = quitting ? 'quit' : 'accepted';
      const arrivals = members.filter((member) => member !== mover).map((watcher) => sees(watcher, mover.id, state, `call-state change ${i}`));
      const start = performance.now();
      const { error } = quitting ? await mover.plugin.quitInvitation({ invitationID: callID }) : await mover.plugin.joinInvitation({ invitationID: callID });
      if (error) throw error;
      const last = Math.max(...(await Promise.all(arrivals)));
      if (i >= warmup) times.push(last - start);
    }
    return { samples, warmup, members: members.length, storage: 'indexeddb', times };
  } finally {
    await scope.close();
  }
}

// ---- entry -------------------------------------------------------------------------------

/** Each section takes its own parameter object; `never` lets one table hold them all. */
const sections: Record<string, (params: never) => Promise<unknown>> = {
  warm,
  cold,
  fanout,
  redelivery,
  mailbox,
  throughput,
  memory,
  flood,
  clusterDelivery,
  serve,
  collect,
  twoTabs,
  leftovers,
  userTabServe,
  userTabArrival,
  userTabClose,
  tabsSend,
  tabsInviterClose,
  callState,
  wallNow: async () => wallNow(),
};

window.bench = {
  async run(section, params = {}) {
    const run = sections[section];
    if (!run) throw new Error(`unknown section ${section}`);
    return run(params as never);
  },
};
