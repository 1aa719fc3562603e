/**
 * Push subscriptions per user: what a browser's `PushSubscription.toJSON()` gives, checked, at
 * most `maxPerUser` each (a user's devices and browsers). In memory on one server; in Redis for a
 * cluster, so that the server parking an invitation finds subscriptions made on another.
 */

/** The parts of `PushSubscription.toJSON()` a push needs. */
export interface StoredSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export type SubscribeReason = 'not-allowed' | 'too-many' | 'invalid';

/**
 * The push services browsers use, by host (a host or `.suffix`): without `allowedEndpoints`, only
 * these. Any other endpoint would let a client make this server POST wherever it likes.
 */
export const KNOWN_PUSH_HOSTS = [
  'fcm.googleapis.com', // Chrome, Edge on Android, Opera, Samsung Internet
  'updates.push.services.mozilla.com', // Firefox
  'web.push.apple.com', // Safari
  '.push.apple.com',
  '.notify.windows.com', // Edge
];

const MAX_ENDPOINT_LENGTH = 2048;

/** A subscription as stored, or why it is refused. */
export function checkSubscription(value: unknown, allowedEndpoints: readonly string[] | undefined): StoredSubscription | SubscribeReason {
  const { endpoint, keys } = (typeof value === 'object' && value !== null ? value : {}) as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } };
  if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_LENGTH || typeof keys !== 'object' || keys === null) return 'invalid';
  const { p256dh, auth } = keys;
  if (!isKey(p256dh, 65) || !isKey(auth, 16) || Buffer.from(p256dh, 'base64url')[0] !== 4) return 'invalid';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'invalid';
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return 'not-allowed';
  const allowed = allowedEndpoints
    ? allowedEndpoints.some((prefix) => url.href.startsWith(prefix))
    : url.port === '' && KNOWN_PUSH_HOSTS.some((host) => (host.startsWith('.') ? url.hostname.endsWith(host) : url.hostname === host));
  if (!allowed) return 'not-allowed';
  return { endpoint: url.href, keys: { p256dh, auth } };
}

function isKey(value: unknown, bytes: number): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]+=*$/.test(value) && Buffer.from(value, 'base64url').length === bytes;
}

export interface SubscriptionStore {
  /** Adds or replaces (same endpoint) a subscription of `userId`; 'too-many' when it would be one beyond the cap. */
  add(userId: string, subscription: StoredSubscription): Promise<'ok' | 'too-many'>;
  remove(userId: string, endpoint: string): Promise<void>;
  list(userId: string): Promise<StoredSubscription[]>;
  close(): Promise<void>;
}

export function memorySubscriptions(maxPerUser: number): SubscriptionStore {
  const byUser = new Map<string, Map<string, StoredSubscription>>();
  return {
    async add(userId, subscription) {
      const subscriptions = byUser.get(userId) ?? new Map<string, StoredSubscription>();
      if (!subscriptions.has(subscription.endpoint) && subscriptions.size >= maxPerUser) return 'too-many';
      subscriptions.set(subscription.endpoint, subscription);
      byUser.set(userId, subscriptions);
      return 'ok';
    },
    async remove(userId, endpoint) {
      const subscriptions = byUser.get(userId);
      subscriptions?.delete(endpoint);
      if (subscriptions?.size === 0) byUser.delete(userId);
    },
    async list(userId) {
      return [...(byUser.get(userId)?.values() ?? [])];
    },
    async close() {
      byUser.clear();
    },
  };
}

/** Adds a field if the hash has it already or has room (one script: atomic across servers). */
const ADD = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('PEXPIRE', KEYS[1], ARGV[4]) return 1 end
return 0`;
/** A user who subscribes nothing for this long is forgotten (each subscription renews it). */
const SUBSCRIPTIONS_TTL_MS = 90 * 24 * 3600 * 1000;

/** The minimal slice of a node-redis client used here (and by the capabilities' store). */
export interface RedisCommands {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hDel(key: string, field: string): Promise<unknown>;
  hVals(key: string): Promise<string[]>;
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
  get(key: string): Promise<string | null>;
}

export function redisSubscriptions(redis: RedisCommands, maxPerUser: number, prefix: string): SubscriptionStore {
  const keyOf = (userId: string) => `${prefix}push:subscriptions:${userId}`;
  return {
    async add(userId, subscription) {
      const added = await redis.eval(ADD, {
        keys: [keyOf(userId)],
        arguments: [subscription.endpoint, JSON.stringify(subscription), String(maxPerUser), String(SUBSCRIPTIONS_TTL_MS)],
      });
      return added === 1 ? 'ok' : 'too-many';
    },
    async remove(userId, endpoint) {
      await redis.hDel(keyOf(userId), endpoint);
    },
    async list(userId) {
      return (await redis.hVals(keyOf(userId))).map((text) => JSON.parse(text) as StoredSubscription);
    },
    async close() {},
  };
}
