/**
 * Who is cut off, and who is getting close: counts each peer's violations,
 * bans a peer for a cool-down once it has too many, and lets one report per
 * peer per cool-down through. Pure but for the clock it is given. That clock
 * is the wall clock by default, which can be set back: a period whose start
 * is now in the future counts as over, so a clock step never stretches a ban.
 */
import type { ResolvedLimitOptions } from '../api/types.js';

/** Past this many entries, expired ones are swept: a peer cannot grow these maps by changing ids. */
const SWEEP_ABOVE = 256;

interface Tally {
  count: number;
  /** When the first violation counted in `count` happened. */
  since: number;
}

/** A ban or a quiet period: from `start` (inclusive) to `end` (exclusive). */
interface Period {
  start: number;
  end: number;
}

export class PeerGuard {
  readonly #limits: Pick<ResolvedLimitOptions, 'violationsBeforeCooldown' | 'cooldownMs'>;
  readonly #now: () => number;
  readonly #tallies = new Map<string, Tally>();
  readonly #banned = new Map<string, Period>();
  readonly #quiet = new Map<string, Period>();

  constructor(limits: Pick<ResolvedLimitOptions, 'violationsBeforeCooldown' | 'cooldownMs'>, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  isBanned(peer: string): boolean {
    return this.#live(this.#banned, peer);
  }

  /** Counts one violation; true when it is the one that reaches `violationsBeforeCooldown`. */
  count(peer: string): boolean {
    const now = this.#now();
    let tally = this.#tallies.get(peer);
    // Violations further apart than a cool-down are a glitch each, not an attack.
    const stale = (entry: Tally) => now - entry.since >= this.#limits.cooldownMs || now < entry.since;
    if (!tally || stale(tally)) {
      sweep(this.#tallies, stale);
      this.#tallies.set(peer, (tally = { count: 0, since: now }));
    }
    tally.count++;
    return tally.count >= this.#limits.violationsBeforeCooldown;
  }

  /** Ignores `peer` until `ms` from now (default `cooldownMs`) and forgets its tally. */
  ban(peer: string, ms = this.#limits.cooldownMs): void {
    const now = this.#now();
    sweep(this.#banned, (period) => !covers(period, now));
    const current = this.#banned.get(peer);
    const end = current && covers(current, now) ? Math.max(current.end, now + ms) : now + ms;
    this.#banned.set(peer, { start: now, end });
    this.#tallies.delete(peer);
  }

  /** True at most once per peer per cool-down: whether something about `peer` may be reported now. */
  mayReport(peer: string): boolean {
    if (this.#live(this.#quiet, peer)) return false;
    const now = this.#now();
    sweep(this.#quiet, (period) => !covers(period, now));
    this.#quiet.set(peer, { start: now, end: now + this.#limits.cooldownMs });
    return true;
  }

  /** Peers banned now. */
  bannedCount(): number {
    const now = this.#now();
    sweep(this.#banned, (period) => !covers(period, now), 0);
    return this.#banned.size;
  }

  #live(periods: Map<string, Period>, peer: string): boolean {
    const period = periods.get(peer);
    if (period === undefined) return false;
    if (covers(period, this.#now())) return true;
    periods.delete(peer);
    return false;
  }
}

function covers(period: Period, now: number): boolean {
  return period.start <= now && now < period.end;
}

function sweep<T>(entries: Map<string, T>, expired: (entry: T) => boolean, above = SWEEP_ABOVE): void {
  if (entries.size <= above) return;
  for (const [key, entry] of entries) if (expired(entry)) entries.delete(key);
}
