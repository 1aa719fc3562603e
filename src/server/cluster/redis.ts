/**
 * The cluster's two Redis connections (commands, and a subscriber for pub/sub), the names it
 * uses there, and `call`: every command with a deadline (its timer cleared as it settles) and
 * counted as a round trip.
 */
import type { ServerCounters } from '../metrics.js';

export const PREFIX = 'peer-invitation:';
/** Carries the id of each new registration, so that nodes holding messages for it send them on. */
export const REGISTERED_CHANNEL = `${PREFIX}registered`;
export const channelOf = (nodeId: string) => `${PREFIX}node:${nodeId}`;
export const keyOf = (userId: string) => `${PREFIX}id:${userId}`;
const REDIS_TIMEOUT_MS = 2000;

/** What the cluster uses of a node-redis client. */
export interface Client {
  readonly isReady: boolean;
  on(event: 'ready', listener: () => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
  get(key: string): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  pubSubNumSub(channel: string): Promise<Record<string, unknown>>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  quit(): Promise<unknown>;
  // Used by Web Push (its subscriptions and marks).
  hDel(key: string, field: string): Promise<unknown>;
  hVals(key: string): Promise<string[]>;
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
}

export interface RedisLink {
  readonly redis: Client;
  readonly subscriber: Client;
  /** Runs one command; rejects if Redis does not answer within 2 s. */
  call<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function connectRedis(url: string, counters: ServerCounters): Promise<RedisLink> {
  // Loaded here, not at the top: a server without `redisUrl` must not need the `redis` package.
  const { createClient } = await import('redis');
  // Commands fail at once while Redis is down (no offline queue): that is what fails closed.
  const redis = createClient({ url, disableOfflineQueue: true });
  const subscriber = redis.duplicate();
  // Connection errors are retried by node-redis; registrations are refused meanwhile.
  redis.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);
  return {
    redis,
    subscriber,
    async call(work) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer')), REDIS_TIMEOUT_MS);
      });
      try {
        const result = await Promise.race([work(), deadline]);
        counters.redisRoundTrips.inc({ outcome: 'ok' });
        return result;
      } catch (error) {
        counters.redisRoundTrips.inc({ outcome: 'failed' });
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
