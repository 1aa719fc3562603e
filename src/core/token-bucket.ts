/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`; each admitted event takes one.
 * Pure but for the clock it is given. Browser and server both read the wall clock, which can be
 * set back: time that runs backwards refills nothing, and never drains the bucket.
 */
export interface Rate {
  /** Tokens added per second: the sustained rate. */
  perSecond: number;
  /** Tokens the bucket holds at most: the largest burst admitted at once. */
  burst: number;
}

export class TokenBucket {
  readonly #rate: Rate;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: Rate, now: () => number) {
    this.#rate = rate;
    this.#now = now;
    this.#tokens = rate.burst;
    this.#at = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    if (this.#rate.perSecond === Infinity) return true;
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Refilled to its burst: no different from a new bucket, so it may be forgotten. */
  isFull(): boolean {
    this.#refill();
    return this.#tokens >= this.#rate.burst;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#rate.burst, this.#tokens + (Math.max(0, now - this.#at) / 1000) * this.#rate.perSecond);
    this.#at = now;
  }
}
