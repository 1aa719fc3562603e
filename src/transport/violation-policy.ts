/**
 * What every transport does with a peer that breaks the rules: counts each
 * violation, cuts the peer off for a cool-down at `violationsBeforeCooldown`,
 * and tells the app at most once per peer per cool-down (`PROTOCOL_VIOLATION`),
 * so that a peer cannot flood the app's error log.
 */
import { Subject } from 'rxjs';
import { InvitationError } from '../errors.js';
import { PeerGuard } from './peer-guard.js';
import type { PeerViolation } from './transport.js';
import type { ResolvedLimitOptions } from '../api/types.js';

type Limits = Pick<ResolvedLimitOptions, 'violationsBeforeCooldown' | 'cooldownMs'>;

export interface ViolationHost {
  /** Closes every connection with `peer`: it has just been banned. */
  cutOff(peer: string): void;
  /** Passes a report on to the app. */
  report(error: InvitationError): void;
}

export class ViolationPolicy {
  /** Every violation counted, before the verdict. */
  readonly violations$ = new Subject<PeerViolation>();
  readonly #guard: PeerGuard;
  readonly #limits: Limits;
  readonly #host: ViolationHost;
  #closed = false;

  constructor(limits: Limits, now: () => number, host: ViolationHost) {
    this.#limits = limits;
    this.#guard = new PeerGuard(limits, now);
    this.#host = host;
  }

  /** Counts a violation; bans at `violationsBeforeCooldown`, else reports it if this peer was not reported lately. */
  count(violation: PeerViolation): void {
    if (this.#closed || this.#guard.isBanned(violation.peer)) return;
    this.violations$.next(violation);
    if (this.#guard.count(violation.peer)) {
      this.ban(violation.peer, { reason: `${this.#limits.violationsBeforeCooldown} violations, the last: ${violation.reason}` });
    } else {
      this.#report(violation.peer, violation.reason);
    }
  }

  /** Cuts `peer` off now for `ms` (default `cooldownMs`) and says so, once per cool-down. */
  ban(peer: string, { reason, ms = this.#limits.cooldownMs }: { reason: string; ms?: number }): void {
    if (this.#closed) return;
    this.#guard.ban(peer, ms);
    this.#host.cutOff(peer);
    this.#report(peer, `${reason}; its connections are closed and it is ignored for ${ms} ms`);
  }

  isBanned(peer: string): boolean {
    return this.#guard.isBanned(peer);
  }

  bannedCount(): number {
    return this.#guard.bannedCount();
  }

  close(): void {
    this.#closed = true;
    this.violations$.complete();
  }

  #report(peer: string, reason: string): void {
    if (!this.#guard.mayReport(peer)) return;
    this.#host.report(
      new InvitationError('PROTOCOL_VIOLATION', `Peer "${peer}": ${reason} (further violations by this peer are not reported for ${this.#limits.cooldownMs} ms)`),
    );
  }
}
