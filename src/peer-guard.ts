/**
 * Who is cut off, and who is getting close: counts each peer's violations,
 * bans a peer for a cool-down once it has too many, and lets one report per
 * peer per cool-down through. Pure but for the clock it is given.
 */
import type { ResolvedLimitOptions } from './types.js';

/** Past this many entries, expired ones are swept: a peer cannot grow these maps by changing ids. */
const SWEEP_ABOVE = 256;

interface Tally {
  count: number;
  /** When the first violation counted in `count` happened. */
  since: number;
}

export class PeerGuard {
  readonly #limits: Pick<ResolvedLimitOptions, 'violationsBeforeCooldown' | 'cooldownMs'>;
  readonly #now: () => number;
  readonly #tallies = new Map<string, Tally>();
  readonly #bannedUntil = new Map<string, number>();
  readonly #quietUntil = new Map<string, number>();

  constructor(limits: Pick<ResolvedLimitOptions, 'violationsBeforeCooldown' | 'cooldownMs'>, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  isBanned(peer: string): boolean {
    return this.#live(this.#bannedUntil, peer);
  }

  /** Counts one violation; true when it is the one that reaches `violationsBeforeCooldown`. */
  count(peer: string): boolean {
    const now = this.#now();
    let tally = this.#tallies.get(peer);
    // Violations further apart than a cool-down are a glitch each, not an attack.
    if (!tally || now - tally.since >= this.#limits.cooldownMs) {
      sweep(this.#tallies, (entry) => now - entry.since >= this.#limits.cooldownMs);
      this.#tallies.set(peer, (tally = { count: 0, since: now }));
    }
    tally.count++;
    return tally.count >= this.#limits.violationsBeforeCooldown;
  }

  /** Ignores `peer` until `ms` from now (default `cooldownMs`) and forgets its tally. */
  ban(peer: string, ms = this.#limits.cooldownMs): void {
    const now = this.#now();
    sweep(this.#bannedUntil, (until) => until <= now);
    this.#bannedUntil.set(peer, Math.max(this.#bannedUntil.get(peer) ?? 0, now + ms));
    this.#tallies.delete(peer);
  }

  /** True at most once per peer per cool-down: whether something about `peer` may be reported now. */
  mayReport(peer: string): boolean {
    if (this.#live(this.#quietUntil, peer)) return false;
    const now = this.#now();
    sweep(this.#quietUntil, (until) => until <= now);
    this.#quietUntil.set(peer, now + this.#limits.cooldownMs);
    return true;
  }

  /** Peers banned now. */
  bannedCount(): number {
    const now = this.#now();
    sweep(this.#bannedUntil, (until) => until <= now, 0);
    return this.#bannedUntil.size;
  }

  #live(untils: Map<string, number>, peer: string): boolean {
    const until = untils.get(peer);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    untils.delete(peer);
    return false;
  }
}

function sweep<T>(entries: Map<string, T>, expired: (entry: T) => boolean, above = SWEEP_ABOVE): void {
  if (entries.size <= above) return;
  for (const [key, entry] of entries) if (expired(entry)) entries.delete(key);
}

/** A token bucket: `ratePerSecond` sustained, up to `burst` at once. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, burst: number, now: () => number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes one token; false when there is none left. */
  take(): boolean {
    if (this.#ratePerMs === Infinity) return true;
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
