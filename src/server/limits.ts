/**
 * What one client may cost the server, in one place: token buckets per registered id (per kind
 * of message) and per IP address (handshakes), a tally of violations that cuts a client off for
 * a cool-down, the largest frame, the send buffer a slow reader may fill, and the mailbox quotas.
 * Every message path through the server asks `admit(clientId, kind)` before it does any work.
 */
import { withoutUndefined } from '../core/objects.js';
import { TokenBucket, type Rate } from '../core/token-bucket.js';

export type { Rate } from '../core/token-bucket.js';

/** The kinds of work a registered client can ask of the server, each with its own bucket per id. */
export type LimitKind = 'offer' | 'answer' | 'candidate' | 'leave' | 'heartbeat' | 'relay' | 'push' | 'register';

export interface MailboxQuota {
  /** Messages at most. */
  messages: number;
  /** Bytes at most (the JSON of each message, as relayed). */
  bytes: number;
}

export interface ServerLimits {
  /** Largest WebSocket frame a client may send; a bigger one closes its socket (a violation) and reaches nobody. */
  maxFrameBytes: number;
  /** A socket whose unsent data grows past this (a client that stops reading) is closed. */
  maxBufferedBytes: number;
  /** Largest protocol message relayed through the server on behalf of the plugin (the RELAY path): the plugin's own frame limit. */
  maxRelayBytes: number;
  /** Per registered id and kind. Beyond it a frame is dropped, and counts as a violation. */
  rates: Record<LimitKind, Rate>;
  /** WebSocket handshakes per client IP address, with or without a valid token; beyond it: HTTP 429. */
  handshakesPerIp: Rate;
  /** A client with this many violations within `cooldownMs` of its first is cut off: closed, and refused for `cooldownMs`. */
  violationsBeforeCutOff: number;
  cooldownMs: number;
  /** Messages waiting for an offline id: beyond any quota, new ones are refused with EXPIRE to their sender. */
  mailbox: { perSender: MailboxQuota; perRecipient: MailboxQuota; total: MailboxQuota };
}

/** Any part of `ServerLimits`; what is left out (or `undefined`) keeps its default. */
export type ServerLimitOptions = {
  [K in keyof ServerLimits]?: ServerLimits[K] extends Rate | MailboxQuota | number ? ServerLimits[K] | undefined : { [P in keyof ServerLimits[K]]?: ServerLimits[K][P] | undefined } | undefined;
};

const MiB = 2 ** 20;

/**
 * The defaults, far above what an honest plugin sends: a fan-out to 100 invitees is 100 OFFERs
 * and a few CANDIDATEs each at once; a reconnect after an outage resends to every peer owed.
 * Measured (scripts/measure-honest-traffic.mjs, Chromium, one invitation to 100): the inviter sent
 * 100 RELAYs, 64 OFFERs and 384 CANDIDATEs within one second; hence relay's burst of 500, not 200.
 */
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxFrameBytes: 64 * 1024,
  maxBufferedBytes: 4 * MiB,
  maxRelayBytes: 16_000,
  rates: {
    offer: { perSecond: 20, burst: 200 },
    answer: { perSecond: 20, burst: 200 },
    candidate: { perSecond: 200, burst: 2000 },
    leave: { perSecond: 20, burst: 200 },
    heartbeat: { perSecond: 2, burst: 20 },
    relay: { perSecond: 50, burst: 500 },
    push: { perSecond: 1, burst: 20 },
    register: { perSecond: 1, burst: 30 },
  },
  handshakesPerIp: { perSecond: 50, burst: 500 },
  violationsBeforeCutOff: 100,
  cooldownMs: 60_000,
  mailbox: {
    perSender: { messages: 2000, bytes: 4 * MiB },
    perRecipient: { messages: 1000, bytes: 2 * MiB },
    total: { messages: 100_000, bytes: 64 * MiB },
  },
};

/** The defaults with `options` over them, field by field (an `undefined` keeps the default). */
export function resolveServerLimits(options: ServerLimitOptions = {}): ServerLimits {
  const defaults = DEFAULT_SERVER_LIMITS;
  return {
    ...defaults,
    ...withoutUndefined(options),
    rates: { ...defaults.rates, ...withoutUndefined(options.rates ?? {}) } as ServerLimits['rates'],
    mailbox: { ...defaults.mailbox, ...withoutUndefined(options.mailbox ?? {}) } as ServerLimits['mailbox'],
  } as ServerLimits;
}

/** What `admit` says: go on; dropped (over the rate: a violation); or the client is cut off (now or still). */
export type Admission = 'admitted' | 'limited' | 'cut-off';

interface Tally {
  count: number;
  since: number;
}

/** How often idle state (full buckets, old tallies, ended cool-downs) is forgotten. */
const SWEEP_MS = 10_000;

export class ClientLimits {
  readonly limits: ServerLimits;
  readonly #now: () => number;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #tallies = new Map<string, Tally>();
  /** Cut-off client ids, each until when. */
  readonly #cutOff = new Map<string, Period>();
  readonly #cutOffListeners = new Set<(clientId: string, reason: string) => void>();
  readonly #sweep: NodeJS.Timeout;

  constructor(limits: ServerLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.#now = now;
    this.#sweep = setInterval(() => this.#forgetIdle(), SWEEP_MS).unref();
  }

  /** May `clientId` (a registered id) do one `kind` now? A drop counts as a violation. */
  admit(clientId: string, kind: LimitKind): Admission {
    if (this.isCutOff(clientId)) return 'cut-off';
    if (this.#take(`${kind}\n${clientId}`, this.limits.rates[kind])) return 'admitted';
    return this.violation(clientId, `over the ${kind} rate`) ? 'cut-off' : 'limited';
  }

  /** May one more WebSocket handshake come from `address`? */
  admitHandshake(address: string): boolean {
    return this.#take(`ip\n${address}`, this.limits.handshakesPerIp);
  }

  /** Counts a violation by `clientId`; true when it is (now) cut off. */
  violation(clientId: string, reason: string): boolean {
    if (this.isCutOff(clientId)) return true;
    const now = this.#now();
    let tally = this.#tallies.get(clientId);
    if (!tally || this.#isStale(tally, now)) this.#tallies.set(clientId, (tally = { count: 0, since: now }));
    tally.count++;
    if (tally.count < this.limits.violationsBeforeCutOff) return false;
    this.#tallies.delete(clientId);
    this.#cutOff.set(clientId, { start: now, end: now + this.limits.cooldownMs });
    for (const listener of this.#cutOffListeners) listener(clientId, reason);
    return true;
  }

  isCutOff(clientId: string): boolean {
    const period = this.#cutOff.get(clientId);
    if (period === undefined) return false;
    if (covers(period, this.#now())) return true;
    this.#cutOff.delete(clientId);
    return false;
  }

  /** Clients cut off now. */
  get cutOffCount(): number {
    const now = this.#now();
    let count = 0;
    for (const period of this.#cutOff.values()) if (covers(period, now)) count++;
    return count;
  }

  /** Called as a client is cut off (to close its socket, count it); returns the unsubscribe. */
  onCutOff(listener: (clientId: string, reason: string) => void): () => void {
    this.#cutOffListeners.add(listener);
    return () => this.#cutOffListeners.delete(listener);
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#cutOffListeners.clear();
  }

  #take(key: string, rate: Rate): boolean {
    let bucket = this.#buckets.get(key);
    if (!bucket) this.#buckets.set(key, (bucket = new TokenBucket(rate, this.#now)));
    return bucket.take();
  }

  /** A tally older than a cool-down, or from a future the clock was set back from, counts no more. */
  #isStale(tally: Tally, now: number): boolean {
    return now - tally.since > this.limits.cooldownMs || now < tally.since;
  }

  #forgetIdle(): void {
    const now = this.#now();
    for (const [key, bucket] of this.#buckets) if (bucket.isFull()) this.#buckets.delete(key);
    for (const [clientId, tally] of this.#tallies) if (this.#isStale(tally, now)) this.#tallies.delete(clientId);
    for (const [clientId, period] of this.#cutOff) if (!covers(period, now)) this.#cutOff.delete(clientId);
  }
}

/**
 * A cut-off from `start` (inclusive) to `end` (exclusive). The server reads the wall clock, which can
 * be set back: a cut-off whose start is now in the future is over, so a clock step never stretches it.
 */
interface Period {
  start: number;
  end: number;
}

function covers(period: Period, now: number): boolean {
  return period.start <= now && now < period.end;
}
