/** A token bucket: `burst` tokens at most, refilled at `perSecond`; each admitted event takes one. */
export interface Rate {
  /** Tokens added per second: the sustained rate. */
  perSecond: number;
  /** Tokens the bucket holds at most: the largest burst admitted at once. */
  burst: number;
}

export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: Rate,
    now: number,
  ) {
    this.#tokens = rate.burst;
    this.#at = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Refilled to its burst: no different from a new bucket, so it may be forgotten. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.rate.burst;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.rate.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate.perSecond);
    this.#at = now;
  }
}
