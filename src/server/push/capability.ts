/**
 * The decline capability a push carries: "the invitee may refuse this invitation", signed by
 * the server for one invitation, its inviter (as the server saw it) and one invitee, until the
 * invitation's deadline. The service worker POSTs it back; it works once. The key is derived
 * from the VAPID private key, so every server of a cluster checks what any of them signed.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { RedisCommands } from './subscriptions.js';

export interface Decline {
  invitationID: string;
  inviterID: string;
  inviteeID: string;
  /** Unix ms after which it is worthless (the invitation's deadline). */
  until: number;
}

export function capabilityKey(vapidPrivateKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(vapidPrivateKey, 'base64url'), Buffer.alloc(0), 'peer-invitation decline capability v1', 32));
}

export function signDecline(key: Buffer, decline: Decline): string {
  const body = Buffer.from(JSON.stringify([decline.invitationID, decline.inviterID, decline.inviteeID, decline.until])).toString('base64url');
  return `${body}.${mac(key, body)}`;
}

/** The capability's content if it is authentic and not past its deadline; else undefined. */
export function verifyDecline(key: Buffer, capability: unknown, now = Date.now()): Decline | undefined {
  if (typeof capability !== 'string' || capability.length > 2048) return undefined;
  const [body, signature, ...rest] = capability.split('.');
  if (body === undefined || signature === undefined || rest.length > 0) return undefined;
  const expected = Buffer.from(mac(key, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const [invitationID, inviterID, inviteeID, until] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string, string, string, number];
  return until > now ? { invitationID, inviterID, inviteeID, until } : undefined;
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(`peer-invitation decline\n${body}`).digest('base64url');
}

/**
 * Marks that happen once cluster-wide: a capability used, an invitation declined. `mark`
 * resolves true for the first caller only; marks go after `ttlMs`.
 */
export interface Marks {
  /** Sets `key` (to `value`) unless it is set; true for the first caller only. */
  mark(key: string, ttlMs: number, value?: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** The value `key` was marked with, while it lasts. */
  get(key: string): Promise<string | undefined>;
  close(): void;
}

export function memoryMarks(now: () => number = Date.now): Marks {
  const marks = new Map<string, { until: number; value: string }>();
  const sweep = setInterval(() => {
    for (const [key, { until }] of marks) if (until <= now()) marks.delete(key);
  }, 10_000);
  sweep.unref();
  const live = (key: string) => {
    const found = marks.get(key);
    return found && found.until > now() ? found : undefined;
  };
  return {
    async mark(key, ttlMs, value = '1') {
      if (live(key)) return false;
      marks.set(key, { until: now() + ttlMs, value });
      return true;
    },
    async has(key) {
      return live(key) !== undefined;
    },
    async get(key) {
      return live(key)?.value;
    },
    close() {
      clearInterval(sweep);
      marks.clear();
    },
  };
}

export function redisMarks(redis: RedisCommands, prefix: string): Marks {
  return {
    async mark(key, ttlMs, value = '1') {
      return (await redis.set(`${prefix}push:mark:${key}`, value, { NX: true, PX: Math.max(1, Math.ceil(ttlMs)) })) === 'OK';
    },
    async has(key) {
      return (await redis.get(`${prefix}push:mark:${key}`)) !== null;
    },
    async get(key) {
      return (await redis.get(`${prefix}push:mark:${key}`)) ?? undefined;
    },
    close() {},
  };
}
