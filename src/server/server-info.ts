/**
 * SERVER-INFO: what the companion server offers a client, sent right after its OPEN (before the
 * messages that waited for its id) and again when a part asks for it (fresh TURN credentials
 * before they expire). One sender per server; each feature adds its part: the relay its
 * `relay`, TURN its `iceServers` and `iceServersExpireAt`, push its VAPID key. A plain
 * PeerServer sends nothing of the sort.
 */
import { checkTurnSecret, checkTurnUrls, turnCredentials } from './turn.js';

export interface TurnOptions {
  /** The TURN server's URLs, e.g. `turn:turn.example.com:3478?transport=udp`, `turns:turn.example.com:443?transport=tcp`. */
  urls: string | readonly string[];
  /** Its shared secret (coturn: `use-auth-secret` with `static-auth-secret`). */
  secret: string | Uint8Array;
  /** How long each client's credentials are valid; they are renewed when a quarter is left. Default 86400 (a day). */
  ttlSeconds?: number;
}

export interface ServerInfoPayload {
  relay: boolean;
  iceServers?: { urls: string[]; username: string; credential: string }[];
  iceServersExpireAt?: number;
  push?: { publicKey: string };
}

/** One feature's share of a client's SERVER-INFO; `renewAt` (unix ms) asks for a fresh one by then. */
export type ServerInfoPart = (userId: string, now: number) => { payload: Partial<ServerInfoPayload>; renewAt?: number };

const DEFAULT_TTL_SECONDS = 86_400;
/** Never renew sooner than this after the last SERVER-INFO (a tiny TTL must not become a busy loop). */
const MIN_RENEW_MS = 500;

/** TURN's part (checked once, at start): credentials for the client's own id, renewed when a quarter of their time is left. */
export function turnPart(turn: TurnOptions): ServerInfoPart {
  checkTurnOptions(turn);
  const ttlSeconds = turn.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  return (userId, now) => {
    const { urls, username, credential, expiresAt } = turnCredentials({ secret: turn.secret, userId, ttlSeconds, urls: turn.urls, now });
    return { payload: { iceServers: [{ urls, username, credential }], iceServersExpireAt: expiresAt }, renewAt: expiresAt - (ttlSeconds * 1000) / 4 };
  };
}

/** Throws a TypeError on options no TURN server could use. */
export function checkTurnOptions(turn: TurnOptions): void {
  checkTurnSecret(turn.secret);
  checkTurnUrls(turn.urls);
  if (turn.ttlSeconds !== undefined && !(turn.ttlSeconds >= 1 && Number.isFinite(turn.ttlSeconds))) throw new TypeError('turn.ttlSeconds must be at least 1');
}

/** Sends each registered client its SERVER-INFO, made of every part, and again when one asks, until its socket leaves. */
export class ServerInfoSender {
  readonly #parts: ServerInfoPart[] = [];
  readonly #timers = new Map<string, { owner: object; timer: NodeJS.Timeout | undefined }>();

  /** Adds a feature's part; call before clients register. */
  add(part: ServerInfoPart): void {
    this.#parts.push(part);
  }

  /** `userId` registered on the socket `owner`; `send` writes to it. */
  registered(userId: string, owner: object, send: (message: object) => void): void {
    clearTimeout(this.#timers.get(userId)?.timer);
    this.#timers.delete(userId);
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
    const timer = renewAt === undefined ? undefined : setTimeout(() => this.registered(userId, owner, send), Math.max(MIN_RENEW_MS, renewAt - now)).unref();
    this.#timers.set(userId, { owner, timer });
  }

  /** The socket `owner` closed: its renewals stop (unless the id registered again on another socket). */
  left(userId: string, owner: object): void {
    const entry = this.#timers.get(userId);
    if (entry?.owner !== owner) return;
    clearTimeout(entry.timer);
    this.#timers.delete(userId);
  }

  close(): void {
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
