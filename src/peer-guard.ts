/**
 * Holds each peer to the protocol and the limits: counts what it does wrong in a
 * cool-down window, reports it on `errors$` at most once per window, and cuts it
 * off (its connections closed, its frames ignored) once it has done wrong
 * `violationsBeforeCooldown` times.
 */
import type { Clock } from './clock.js';
import { InvitationError } from './errors.js';
import type { Transport } from './transport.js';
import type { ResolvedLimits } from './types.js';

interface Record {
  /** End of the current window: violations are counted, and reported once, within it. */
  windowEnd: number;
  violations: number;
  bannedUntil: number;
}

/** Above this many peers on record, the ones whose windows are over are forgotten. */
const PRUNE_ABOVE = 1000;

export class PeerGuard {
  readonly #records = new Map<string, Record>();
  readonly #limits: ResolvedLimits;
  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #report: (error: InvitationError) => void;

  constructor(limits: ResolvedLimits, clock: Clock, transport: Transport, report: (error: InvitationError) => void) {
    this.#limits = limits;
    this.#clock = clock;
    this.#transport = transport;
    this.#report = report;
  }

  isBanned(peer: string): boolean {
    const record = this.#records.get(peer);
    return record !== undefined && this.#clock.now() < record.bannedUntil;
  }

  /** The peer broke the protocol or went over a limit; what it sent was dropped or refused. */
  violation(peer: string, reason: string): void {
    const now = this.#clock.now();
    let record = this.#records.get(peer);
    if (!record || now >= record.windowEnd) {
      if (!record) this.#prune(now);
      record = { windowEnd: now + this.#limits.cooldownMs, violations: 0, bannedUntil: record?.bannedUntil ?? 0 };
      this.#records.set(peer, record);
      this.#report(
        new InvitationError('PROTOCOL_VIOLATION', `Dropped a message from "${peer}": ${reason} (further violations by this peer are not reported for ${this.#limits.cooldownMs} ms)`),
      );
    }
    record.violations += 1;
    if (record.violations >= this.#limits.violationsBeforeCooldown && now >= record.bannedUntil) {
      record.bannedUntil = now + this.#limits.cooldownMs;
      this.#transport.ban(peer, this.#limits.cooldownMs);
    }
  }

  #prune(now: number): void {
    if (this.#records.size < PRUNE_ABOVE) return;
    for (const [peer, record] of this.#records) if (now >= record.windowEnd && now >= record.bannedUntil) this.#records.delete(peer);
  }
}
