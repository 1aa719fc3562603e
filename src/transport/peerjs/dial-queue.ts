/**
 * Which of our own connections may start opening now. Only retries to peers the
 * server last called offline take turns, at most MAX_OUTBOUND_OPENING opening
 * at once: an attempt on an offline peer holds its place while the server parks
 * the offer (`expire_timeout`; 60 s on the companion server), and a reconnect
 * that retries many offline peers must neither exhaust the browser's
 * RTCPeerConnections nor hold up a peer that is online. First attempts, and
 * attempts on peers not called offline, never wait. Waiting ones go first come
 * first served, except that peers still called offline go after the others.
 */
import type { Link, Links } from './links.js';

export const MAX_OUTBOUND_OPENING = 8;

/** Per-peer memories (offer allowances, offline marks) are kept for at most this many peers. */
export const MAX_REMEMBERED_PEERS = 256;

/** A `connect` waiting for its turn. */
interface QueuedConnect {
  readonly link: Promise<Link>;
  resolve(link: Link): void;
  reject(error: unknown): void;
}

export class DialQueue {
  /** Peers waiting for an outbound place, in arrival order. */
  readonly #queue = new Map<string, QueuedConnect>();
  /** Peers the server said were offline, until a connection with them opens. */
  readonly #offline = new Set<string>();
  readonly #links: Links;
  /** Opens (or finds) a link to `to`; throws when it cannot. */
  readonly #dial: (to: string) => Link;

  constructor(links: Links, dial: (to: string) => Link) {
    this.#links = links;
    this.#dial = dial;
  }

  /** A link to `to` now if there is one, or `to` was not last called offline, or a place is free; else once a place frees. */
  inTurn(to: string): Link | Promise<Link> {
    if (this.#links.has(to) || !this.#offline.has(to) || (this.#queue.size === 0 && this.#opening() < MAX_OUTBOUND_OPENING)) return this.#dial(to);
    let queued = this.#queue.get(to);
    if (!queued) {
      let resolve!: (link: Link) => void;
      let reject!: (error: unknown) => void;
      const link = new Promise<Link>((onLink, onError) => {
        resolve = onLink;
        reject = onError;
      });
      this.#queue.set(to, (queued = { link, resolve, reject }));
    }
    return queued.link;
  }

  /** Starts queued connects while places are free; call whenever an outbound link stops opening. */
  next(): void {
    while (this.#queue.size > 0 && this.#opening() < MAX_OUTBOUND_OPENING) {
      const waiting = [...this.#queue.keys()];
      const to = waiting.find((peer) => !this.#offline.has(peer)) ?? waiting[0]!;
      const queued = this.#queue.get(to)!;
      this.#queue.delete(to);
      try {
        queued.resolve(this.#dial(to));
      } catch (error) {
        queued.reject(error);
      }
    }
  }

  /** The server said `peer` is not registered. */
  offline(peer: string): void {
    if (this.#offline.size < MAX_REMEMBERED_PEERS) this.#offline.add(peer);
  }

  /** A connection with `peer` opened: it is online. */
  reached(peer: string): void {
    this.#offline.delete(peer);
  }

  rejectAll(error: unknown): void {
    for (const queued of this.#queue.values()) queued.reject(error);
    this.#queue.clear();
  }

  /** Our own links still opening to peers last called offline: the ones that take turns. */
  #opening(): number {
    let opening = 0;
    for (const link of this.#links.all()) if (!link.inbound && !link.open && this.#offline.has(link.peer)) opening++;
    return opening;
  }
}
