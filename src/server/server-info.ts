/**
 * SERVER-INFO: what the companion server offers a client, sent right after its OPEN and again
 * before its TURN credentials expire: whether the relay is on, and TURN servers with
 * credentials for that client's own id (a plain PeerServer sends nothing of the sort).
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
}

const DEFAULT_TTL_SECONDS = 86_400;
/** Never renew sooner than this after the last SERVER-INFO (a tiny TTL must not become a busy loop). */
const MIN_RENEW_MS = 500;

/** Checks `turn` once, at start; returns the function that makes a client's SERVER-INFO, and when to send the next. */
export function serverInfoFor({ relay, turn }: { relay: boolean; turn: TurnOptions | undefined }): (userId: string, now?: number) => { payload: ServerInfoPayload; renewAt: number | undefined } {
  if (turn !== undefined) checkTurnOptions(turn);
  return (userId, now = Date.now()) => {
    if (turn === undefined) return { payload: { relay }, renewAt: undefined };
    const ttlSeconds = turn.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const { urls, username, credential, expiresAt } = turnCredentials({ secret: turn.secret, userId, ttlSeconds, urls: turn.urls, now });
    const renewAt = Math.max(now + MIN_RENEW_MS, expiresAt - (ttlSeconds * 1000) / 4);
    return { payload: { relay, iceServers: [{ urls, username, credential }], iceServersExpireAt: expiresAt }, renewAt };
  };
}

/** Throws a TypeError on options no TURN server could use. */
export function checkTurnOptions(turn: TurnOptions): void {
  checkTurnSecret(turn.secret);
  checkTurnUrls(turn.urls);
  if (turn.ttlSeconds !== undefined && !(turn.ttlSeconds >= 1 && Number.isFinite(turn.ttlSeconds))) throw new TypeError('turn.ttlSeconds must be at least 1');
}

/** Sends each registered client its SERVER-INFO, and again before its credentials expire, until its socket closes. */
export class ServerInfoSender {
  readonly #make: ReturnType<typeof serverInfoFor>;
  readonly #timers = new Map<string, { owner: object; timer: NodeJS.Timeout | undefined }>();

  constructor(make: ReturnType<typeof serverInfoFor>) {
    this.#make = make;
  }

  /** `userId` registered on the socket `owner`; `send` writes to it. */
  registered(userId: string, owner: object, send: (message: object) => void): void {
    clearTimeout(this.#timers.get(userId)?.timer);
    const { payload, renewAt } = this.#make(userId);
    send({ type: 'SERVER-INFO', payload });
    const timer = renewAt === undefined ? undefined : setTimeout(() => this.registered(userId, owner, send), renewAt - Date.now()).unref();
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
