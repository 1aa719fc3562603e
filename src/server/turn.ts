/**
 * TURN credentials in the "TURN REST API" form that coturn's `use-auth-secret` (and most
 * hosted TURN services) accept: `username = "<expiry in Unix seconds>:<user id>"`,
 * `credential = base64(HMAC-SHA1(secret, username))`. The TURN server needs only the
 * shared secret to check them, and refuses them after the expiry; the browser never sees
 * the secret.
 */
import { createHmac } from 'node:crypto';

export interface TurnCredentialsOptions {
  /** The TURN server's shared secret (coturn: `static-auth-secret`). */
  secret: string | Uint8Array;
  /** Whom the credentials are for; it appears in the TURN server's log. */
  userId: string;
  /** How long they are valid, from now. */
  ttlSeconds: number;
  /** The TURN server's addresses, e.g. `turn:turn.example.com:3478?transport=udp`, `turns:turn.example.com:443?transport=tcp`. */
  urls: string | readonly string[];
  /** "Now" in ms since the epoch. Default `Date.now()`. */
  now?: number;
}

/** One `RTCIceServer` entry, and when its credential stops working. */
export interface TurnCredentials {
  urls: string[];
  username: string;
  credential: string;
  /** Unix ms: the TURN server refuses the credential from then on. */
  expiresAt: number;
}

/** Short-lived TURN credentials for `userId`, for apps that hand them out from their own backend. */
export function turnCredentials({ secret, userId, ttlSeconds, urls, now = Date.now() }: TurnCredentialsOptions): TurnCredentials {
  checkTurnSecret(secret);
  if (typeof userId !== 'string' || userId === '') throw new TypeError('turnCredentials: userId must be a non-empty string');
  if (typeof ttlSeconds !== 'number' || !(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new TypeError('turnCredentials: ttlSeconds must be a positive number');
  const list = checkTurnUrls(urls);
  const expiry = Math.floor(now / 1000 + ttlSeconds);
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { urls: list, username, credential, expiresAt: expiry * 1000 };
}

export function checkTurnSecret(secret: unknown): void {
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret) : secret instanceof Uint8Array ? secret.byteLength : 0;
  if (bytes === 0) throw new TypeError('The TURN secret must be a non-empty string or bytes');
}

export function checkTurnUrls(urls: unknown): string[] {
  const list = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? [...(urls as unknown[])] : [];
  if (list.length === 0 || !list.every((url) => typeof url === 'string' && /^turns?:/.test(url))) {
    throw new TypeError('TURN urls must be one or more `turn:` or `turns:` URLs');
  }
  return list as string[];
}
