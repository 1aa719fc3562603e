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
  #closed = false;

  constructor(locks: LockManager, name: string) {
    this.#locks = locks;
    this.#name = name;
  }

  /** Takes the lock if no tab holds it; resolves whether this tab leads now. */
  tryLead(): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#locks
        .request(this.#name, { ifAvailable: true }, (lock) => {
          if (!lock || this.#closed) return resolve(false);
          resolve(true);
          return this.#hold();
        })
        .catch(reject);
    });
  }

  /** Resolves once this tab holds the lock, after the tabs before it let it go; never after `close`. */
  waitToLead(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#locks
        .request(this.#name, { signal: this.#waiting.signal }, () => {
          if (this.#closed) return undefined;
          resolve();
          return this.#hold();
        })
        // Aborted by close: this tab never leads.
        .catch(() => {});
    });
  }

  /** Kept until `close`: a promise that settles releases the lock. */
  #hold(): Promise<void> {
    return new Promise<void>((release) => {
      this.#release = release;
    });
  }

  /** Lets the lock go (the next tab waiting leads) and stops waiting for it. Safe to call twice. */
  close(): void {
    this.#closed = true;
    this.#waiting.abort();
    this.#release?.();
    this.#release = undefined;
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
