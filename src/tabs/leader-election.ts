/**
 * One tab per user holds the PeerServer registration: the one holding a Web
 * Lock named for the user. The browser frees the lock when its tab closes,
 * reloads, navigates away or crashes, and grants it to the next tab waiting.
 */
export class LeaderElection {
  readonly #locks: LockManager;
  readonly #name: string;
  readonly #waiting = new AbortController();
  #release: (() => void) | undefined;
  /** Settles once the lock this tab held is released. */
  #released: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(locks: LockManager, name: string) {
    this.#locks = locks;
    this.#name = name;
  }

  /** Takes the lock if no tab holds it; resolves whether this tab leads now. */
  tryLead(): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const request = this.#locks.request(this.#name, { ifAvailable: true }, (lock) => {
        if (!lock || this.#closed) return resolve(false);
        this.#released = request;
        resolve(true);
        return this.#hold();
      });
      request.catch(reject);
    });
  }

  /** Resolves once this tab holds the lock, after the tabs before it let it go; never after `close`. */
  waitToLead(): Promise<void> {
    return new Promise<void>((resolve) => {
      const request = this.#locks.request(this.#name, { signal: this.#waiting.signal }, () => {
        if (this.#closed) return undefined;
        this.#released = request;
        resolve();
        return this.#hold();
      });
      // Aborted by close: this tab never leads.
      request.catch(() => {});
    });
  }

  /** Kept until `close`: a promise that settles releases the lock. */
  #hold(): Promise<void> {
    return new Promise<void>((release) => {
      this.#release = release;
    });
  }

  /** Whether another tab (or plugin of this page) waits for the lock: a follower of the user. */
  async othersWaiting(): Promise<boolean> {
    const { pending = [] } = await this.#locks.query();
    return pending.some((request) => request.name === this.#name);
  }

  /**
   * Lets the lock go (the next tab waiting leads) and stops waiting for it; resolves once the
   * lock is free. Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.abort();
    this.#release?.();
    this.#release = undefined;
    await this.#released.catch(() => {});
  }
}

export interface TabPlatform {
  locks: LockManager;
  createChannel: (name: string) => BroadcastChannel;
}

/** Web Locks and BroadcastChannel, where the platform has both. */
export function tabPlatform(): TabPlatform | undefined {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks || typeof locks.request !== 'function' || typeof BroadcastChannel !== 'function') return undefined;
  return { locks, createChannel: (name) => new BroadcastChannel(name) };
}
