/**
 * The deadline and the purge of each invitation. A timer wakes at the next one
 * due; because a timer may oversleep (a suspended page, a laptop lid) or the
 * wall clock may leap ahead, every second and whenever the page resumes the
 * times are checked again against the clock, so an overdue invitation ends at once.
 */
import { Subscription, interval, timer, type SchedulerLike } from 'rxjs';
import type { Clock } from '../core/clock.js';

export interface DeadlineHandlers {
  /** The invitation's deadline passed. Called once. */
  expire(invitationID: string): void;
  /** Its retention passed too: forget it. Called once, after `expire`. */
  purge(invitationID: string): void;
}

interface Due {
  deadline: number;
  purgeAt: number;
  expired: boolean;
}

/** How often the times are checked against the clock, whatever the timers do. */
const CHECK_INTERVAL_MS = 1000;
const RESUME_EVENTS = [
  [() => globalThis.document, 'visibilitychange'],
  [() => globalThis.document, 'resume'],
  [() => globalThis.window, 'pageshow'],
] as const;

export class Deadlines {
  readonly #due = new Map<string, Due>();
  #wakeUp: Subscription | undefined;
  /** When `#wakeUp` fires (clock ms); Infinity when nothing is due. */
  #nextWakeAt = Infinity;
  #ticker: Subscription | undefined;
  readonly #lifetime = new Subscription();

  readonly #clock: Clock;
  readonly #scheduler: SchedulerLike;
  readonly #retentionMs: number;
  readonly #handlers: DeadlineHandlers;

  constructor(clock: Clock, scheduler: SchedulerLike, retentionMs: number, handlers: DeadlineHandlers) {
    this.#clock = clock;
    this.#scheduler = scheduler;
    this.#retentionMs = retentionMs;
    this.#handlers = handlers;
    const check = () => this.check();
    for (const [target, type] of RESUME_EVENTS) {
      const eventTarget = target();
      if (!eventTarget) continue;
      eventTarget.addEventListener(type, check);
      this.#lifetime.add(() => eventTarget.removeEventListener(type, check));
    }
    this.#lifetime.add(() => {
      this.#wakeUp?.unsubscribe();
      this.#ticker?.unsubscribe();
    });
  }

  /** Watches an invitation's deadline (once; later calls for the same id change nothing). */
  arm(invitationID: string, deadline: number): void {
    if (this.#lifetime.closed || this.#due.has(invitationID)) return;
    this.#due.set(invitationID, { deadline, purgeAt: deadline + this.#retentionMs, expired: false });
    // Only an earlier time than the next one due needs a new wake-up: arming stays O(1) in a burst.
    if (deadline < this.#nextWakeAt) this.check();
  }

  /** Ends an invitation at once if it is overdue and its timer has not noticed yet (a page that just woke). */
  checkOne(invitationID: string): void {
    const due = this.#due.get(invitationID);
    if (due && !due.expired && this.#clock.now() >= due.deadline) this.check();
  }

  /** Ends and purges whatever is due now, then sleeps until the next time due. */
  check(): void {
    if (this.#lifetime.closed) return;
    const now = this.#clock.now();
    const expired: string[] = [];
    const purged: string[] = [];
    for (const [invitationID, due] of this.#due) {
      if (!due.expired && now >= due.deadline) {
        due.expired = true;
        // Remembered a full retention after it ended, even when the clock leapt past both at once.
        due.purgeAt = Math.max(due.purgeAt, now + this.#retentionMs);
        expired.push(invitationID);
      }
      if (now >= due.purgeAt) {
        this.#due.delete(invitationID);
        purged.push(invitationID);
      }
    }
    for (const invitationID of expired) this.#handlers.expire(invitationID);
    for (const invitationID of purged) this.#handlers.purge(invitationID);
    this.#sleep();
  }

  #sleep(): void {
    this.#wakeUp?.unsubscribe();
    this.#wakeUp = undefined;
    this.#nextWakeAt = Infinity;
    if (this.#lifetime.closed) return;
    if (this.#due.size === 0) {
      this.#ticker?.unsubscribe();
      this.#ticker = undefined;
      return;
    }
    let next = Infinity;
    for (const due of this.#due.values()) next = Math.min(next, due.expired ? due.purgeAt : due.deadline);
    this.#nextWakeAt = next;
    this.#wakeUp = timer(Math.max(0, next - this.#clock.now()), this.#scheduler).subscribe(() => this.check());
    this.#ticker ??= interval(CHECK_INTERVAL_MS, this.#scheduler).subscribe(() => this.check());
  }

  close(): void {
    this.#lifetime.unsubscribe();
    this.#due.clear();
  }
}
