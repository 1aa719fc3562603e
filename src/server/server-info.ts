/**
 * SERVER-INFO: what the companion server offers a client, sent right after its OPEN (before the
 * messages that waited for its id) and again when a part asks for it (fresh TURN credentials).
 * One sender per server; each feature adds its part (push: the VAPID key; the relay and TURN:
 * `relay`, `iceServers`). A server with no parts sends nothing, as a plain PeerServer.
 */

export interface ServerInfoPayload {
  relay: boolean;
  iceServers?: { urls: string[]; username: string; credential: string }[];
  iceServersExpireAt?: number;
  push?: { publicKey: string };
}

/** One feature's share of a client's SERVER-INFO; `renewAt` (unix ms) asks for a fresh one by then. */
export type ServerInfoPart = (userId: string, now: number) => { payload: Partial<ServerInfoPayload>; renewAt?: number };

/** Never renew sooner than this after the last SERVER-INFO (a tiny TTL must not become a busy loop). */
const MIN_RENEW_MS = 500;

/** Sends each registered client its SERVER-INFO, made of every part, and again when one asks, until it leaves. */
export class ServerInfoSender {
  readonly #parts: ServerInfoPart[] = [];
  readonly #timers = new Map<string, NodeJS.Timeout>();

  /** Adds a feature's part; call before clients register. */
  add(part: ServerInfoPart): void {
    this.#parts.push(part);
  }

  registered(userId: string, send: (message: object) => void): void {
    this.unregistered(userId);
    if (this.#parts.length === 0) return;
    const now = Date.now();
    let payload: ServerInfoPayload = { relay: false };
    let renewAt: number | undefined;
    for (const part of this.#parts) {
      const share = part(userId, now);
      payload = { ...payload, ...share.payload };
      if (share.renewAt !== undefined) renewAt = Math.min(renewAt ?? Infinity, share.renewAt);
    }
    send({ type: 'SERVER-INFO', payload });
    if (renewAt === undefined) return;
    const timer = setTimeout(() => this.registered(userId, send), Math.max(MIN_RENEW_MS, renewAt - now));
    this.#timers.set(userId, timer.unref());
  }

  unregistered(userId: string): void {
    clearTimeout(this.#timers.get(userId));
    this.#timers.delete(userId);
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
