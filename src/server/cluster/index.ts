/**
 * Several companion servers as one, through Redis: an id registry (one holder per id
 * cluster-wide, claimed atomically before PeerServer registers the id), routing between nodes
 * (a channel per node), and a mailbox that spans nodes: a message for an id registered nowhere
 * waits on the sender's node, and goes to whichever node that id registers on, or expires with
 * an EXPIRE to its sender. While Redis is unreachable, new registrations are refused (fail
 * closed); clients already registered keep what they have on their node.
 */
import { randomUUID } from 'node:crypto';
import type { Mailbox } from '../mailbox.js';
import type { ServerCounters } from '../metrics.js';
import type { RoutedWebSocket } from '../routed-web-socket.js';
import type { Switchboard } from '../switchboard.js';
import { clusterMailbox } from './mailbox.js';
import { PREFIX, connectRedis, type RedisLink } from './redis.js';
import { Registry, type ClaimResult } from './registry.js';
import { routing } from './routing.js';

export type { ClaimResult } from './registry.js';

export interface Cluster {
  readonly nodeId: string;
  /** Claims `userId` for a client of this node with `token` (the same token may claim again: a reconnect). */
  claim(userId: string, token: string): Promise<ClaimResult>;
  /** The claimed id's socket is registered here now: refresh its claim, announce it, release it when it closes. */
  hold(userId: string, token: string, socket: RoutedWebSocket): void;
  /** Gives a claim back when its client went away before registering. */
  release(userId: string, token: string): Promise<void>;
  /** Releases every id held here and leaves Redis. */
  close(): Promise<void>;
  /** Whether `userId` is registered on any node. */
  isRegistered(userId: string): Promise<boolean>;
  /** The node's Redis commands, for state kept cluster-wide (push subscriptions). */
  readonly redis: RedisLink['redis'];
  /**
   * Events for every node: `listener` hears, here and on each other node, what the returned function
   * sends on channel `name` (a declined invitation). Like all pub/sub, what is sent while a node's
   * Redis connection is away is lost for that node.
   */
  channel(name: string, listener: (message: string) => void): Promise<(message: string) => Promise<void>>;
}

export async function joinCluster({ redisUrl, switchboard, mailbox, counters }: { redisUrl: string; switchboard: Switchboard; mailbox: Mailbox; counters: ServerCounters }): Promise<Cluster> {
  const nodeId = randomUUID();
  const link = await connectRedis(redisUrl, counters);
  const registry = new Registry(link, nodeId);
  const onward = routing({ link, registry, switchboard, nodeId });
  const spanning = clusterMailbox({ link, mailbox, switchboard });
  await onward.listen();
  await spanning.listen();
  switchboard.onward = onward;

  /**
   * Redis is back (after a restart without persistence it holds no claims, and a node whose
   * subscriber was still away looked gone, so its claims may have been removed): once both
   * connections are up again (the subscriber resubscribed), this node claims its ids again and
   * announces them, and sends on what waited here meanwhile, instead of leaving routing across
   * nodes broken until the next refresh and parked messages until they expire.
   */
  const recover = (): void => {
    if (!link.redis.isReady || !link.subscriber.isReady) return;
    registry.reclaim((userId) => spanning.announce(userId));
    spanning.sendAll();
  };
  // Attached after the first connection: these are reconnections.
  link.redis.on('ready', recover);
  link.subscriber.on('ready', recover);

  return {
    nodeId,
    claim: (userId, token) => registry.claim(userId, token),
    hold(userId, token, socket) {
      registry.hold(userId, token, socket);
      // Registered now (PeerServer answers OPEN as the socket is handed over): whatever waits for it anywhere comes.
      void spanning.announce(userId).catch(() => {});
    },
    release: (userId, token) => registry.release(userId, token),
    isRegistered: async (userId) => (await registry.locate(userId)) !== undefined,
    redis: link.redis,
    async channel(name, listener) {
      const channel = `${PREFIX}${name}`;
      await link.subscriber.subscribe(channel, listener);
      return (message) => link.call(() => link.redis.publish(channel, message)).then(() => undefined);
    },
    async close() {
      link.redis.off('ready', recover);
      link.subscriber.off('ready', recover);
      switchboard.onward = undefined;
      await registry.close();
      await link.close();
    },
  };
}
