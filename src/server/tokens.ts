/**
 * Registration tokens: the app's backend signs "this browser may register as
 * user X until time T", and the companion PeerServer checks it before the id
 * registers. A token is `<expiry>.<nonce>.<mac>`: the expiry in Unix seconds,
 * 16 random bytes, and HMAC-SHA256 over the user id, expiry and nonce, all
 * URL-safe (base64url), since PeerJS puts the token in the WebSocket URL.
 * The nonce makes every token unique: PeerServer lets a client with the same
 * token take over an id that is held, which must stay one browser's reconnect.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SignTokenOptions {
  /** The server's secret: at least 16 bytes, the same string or bytes the server was started with. */
  secret: string | Uint8Array;
  /** The id the browser may register. */
  userId: string;
  /** How long the token may be used to register, from now. Registered clients stay when it expires; a new registration needs a fresh token. */
  expiresInSeconds: number;
  /** "Now" in ms since the epoch. Default `Date.now()`; tests pass another. */
  now?: number;
}

export interface VerifyTokenOptions {
  secret: string | Uint8Array;
  /** The id the browser asks to register. */
  userId: string;
  token: string;
  /** "Now" in ms since the epoch. Default `Date.now()`. */
  now?: number;
}

const MIN_SECRET_BYTES = 16;
const NONCE_BYTES = 16;
const TOKEN_SHAPE = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** A token that lets `userId` register until `expiresInSeconds` from now. */
export function signToken({ secret, userId, expiresInSeconds, now = Date.now() }: SignTokenOptions): string {
  checkSecret(secret);
  if (typeof userId !== 'string' || userId === '') throw new TypeError('signToken: userId must be a non-empty string');
  if (typeof expiresInSeconds !== 'number' || !(expiresInSeconds > 0) || !Number.isFinite(expiresInSeconds)) {
    throw new TypeError('signToken: expiresInSeconds must be a positive number');
  }
  const expiry = String(Math.ceil(now / 1000 + expiresInSeconds));
  const nonce = randomBytes(NONCE_BYTES).toString('base64url');
  return `${expiry}.${nonce}.${mac(secret, userId, expiry, nonce).toString('base64url')}`;
}

/** Whether `token` was signed with `secret` for `userId` and has not expired. Compares in constant time. */
export function verifyToken({ secret, userId, token, now = Date.now() }: VerifyTokenOptions): boolean {
  checkSecret(secret);
  if (typeof userId !== 'string' || userId === '' || typeof token !== 'string') return false;
  const parts = TOKEN_SHAPE.exec(token);
  if (!parts) return false;
  const [, expiry, nonce, signature] = parts as unknown as [string, string, string, string];
  // Compared as text: decoding would let the unused low bits of the last character vary.
  const expected = Buffer.from(mac(secret, userId, expiry, nonce).toString('base64url'));
  const given = Buffer.from(signature);
  const authentic = given.length === expected.length && timingSafeEqual(given, expected);
  return authentic && Number(expiry) * 1000 > now;
}

function mac(secret: string | Uint8Array, userId: string, expiry: string, nonce: string): Buffer {
  // Newlines cannot occur in a PeerJS id or in the other fields: the parts cannot be shifted into one another.
  return createHmac('sha256', secret).update(`peer-invitation token v1\n${userId}\n${expiry}\n${nonce}`).digest();
}

function checkSecret(secret: unknown): void {
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret) : secret instanceof Uint8Array ? secret.byteLength : 0;
  if (bytes < MIN_SECRET_BYTES) throw new TypeError(`The token secret must be a string or bytes of at least ${MIN_SECRET_BYTES} bytes`);
}
