/**
 * Several companion servers as one, through Redis: an id registry (one holder
 * per id cluster-wide, claimed atomically before PeerServer registers the id),
 * a pub/sub channel per node that carries OFFER, ANSWER, CANDIDATE and LEAVE to
 * the node holding the destination, with `src` set by the sender's server, and
 * a mailbox that spans nodes: a message for an id registered nowhere waits on
 * the sender's node, and goes to whichever node that id registers on (a
 * broadcast says where), or expires with an EXPIRE to its sender. While Redis
 * is unreachable, new registrations are refused (fail closed); clients already
 * registered keep what they have on their node.
 */
import { randomUUID } from 'node:crypto';
import WebSocket, { type RawData } from 'ws';

/** What a claim of an id says: registered here now, held elsewhere, or cannot tell (Redis down). */
export type ClaimResult = 'claimed' | 'taken' | 'unavailable';

/** A WebSocket whose incoming messages pass through `route` (when set) before PeerServer sees them. */
export class RoutedWebSocket extends WebSocket {
  route: ((data: RawData, deliver: () => void) => void) | undefined;

  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === 'message' && this.route) {
      this.route(args[0] as RawData, () => super.emit(event, ...args));
      return true;
    }
    return super.emit(event, ...args);
  }
}

interface Relayed {
  type: string;
  src: string;
  dst: string;
  payload?: unknown;
}

const ROUTED_TYPES = new Set(['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE']);
/** LEAVE for an id registered nowhere is dropped, as PeerServer does. */
const PARKED_TYPES = new Set(['OFFER', 'ANSWER', 'CANDIDATE']);
const PREFIX = 'peer-invitation:';
/** Carries the id of each new registration, so that nodes holding messages for it send them on. */
const REGISTERED_CHANNEL = `${PREFIX}registered`;
const EXPIRY_SWEEP_MS = 1000;
/** How long a claim lives in Redis without a refresh: what a node that died without releasing leaves behind. */
const CLAIM_TTL_MS = 30_000;
const REFRESH_MS = CLAIM_TTL_MS / 3;
const REDIS_TIMEOUT_MS = 2000;

/** Sets the id's holder if it has none or already is this holder (one script: atomic). */
const CLAIM = `local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** Deletes the id only if this holder still holds it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface Cluster {
  readonly nodeId: string;
  /** Claims `userId` for a client of this node with `token` (the same token may claim again: a reconnect). */
  claim(userId: string, token: string): Promise<ClaimResult>;
  /** The claimed id's socket is registered here now: route its messages, refresh its claim, release it when it closes. */
  hold(userId: string, token: string, socket: RoutedWebSocket): void;
  /** Gives a claim back when its client went away before registering. */
  release(userId: string, token: string): Promise<void>;
  /** Releases every id held here and leaves Redis. */
  close(): Promise<void>;
  /** Whether `userId` is registered on any node. */
  isRegistered(userId: string): Promise<boolean>;
  /** Writes `message` to the socket of `message.dst` on whichever node holds it; false when none does. */
  deliver(message: Relayed): Promise<boolean>;
  /** The node's Redis connection, for others that keep state cluster-wide (push subscriptions). */
  readonly redis: import('redis').RedisClientType;
}

export async function joinCluster({ redisUrl, expireTimeoutMs, onParked }: { redisUrl: string; expireTimeoutMs: number; onParked?: (message: Relayed) => void }): Promise<Cluster> {
  // Loaded here, not at the top: a server without `redisUrl` must not need the `redis` package.
  const { createClient } = await import('redis');
  const nodeId = randomUUID();
  const channel = `${PREFIX}node:${nodeId}`;
  // Commands fail at once while Redis is down (no offline queue): that is what fails closed.
  const redis = createClient({ url: redisUrl, disableOfflineQueue: true });
  const subscriber = redis.duplicate();
  // Connection errors are retried by node-redis; registrations are refused meanwhile.
  redis.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);

  /** Ids registered on this node: their socket and the claim's value. */
  const held = new Map<string, { socket: RoutedWebSocket; value: string }>();
  const keyOf = (userId: string) => `${PREFIX}id:${userId}`;
  const valueOf = (token: string) => `${nodeId} ${token}`;

  const withTimeout = <T>(work: Promise<T>): Promise<T> =>
    Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('Redis did not answer')), REDIS_TIMEOUT_MS).unref())]);

  const release = async (userId: string, value: string): Promise<void> => {
    await withTimeout(redis.eval(RELEASE, { keys: [keyOf(userId)], arguments: [value] })).catch(() => {});
  };

  const claimKey = async (userId: string, value: string): Promise<boolean> =>
    (await withTimeout(redis.eval(CLAIM, { keys: [keyOf(userId)], arguments: [value, String(CLAIM_TTL_MS)] }))) === 1;

  const nodeOf = (value: string) => value.slice(0, value.indexOf(' '));

  /** A running node listens on its channel; none does for one that died without closing (a crash, SIGKILL). */
  const isUp = async (node: string): Promise<boolean> => {
    const channelOfNode = `${PREFIX}node:${node}`;
    const listeners = await withTimeout(redis.pubSubNumSub(channelOfNode));
    return Number(listeners[channelOfNode] ?? 0) > 0;
  };

  /**
   * Where `userId` is registered: this node's id, another node's, or undefined. A claim
   * left by a node that is gone is removed (only if unchanged), so its users need not
   * wait for its TTL to register again.
   */
  const locate = async (userId: string): Promise<string | undefined> => {
    const value = await withTimeout(redis.get(keyOf(userId)));
    if (value === null) return undefined;
    const node = nodeOf(value);
    if (node === nodeId || (await isUp(node))) return node;
    await release(userId, value);
    return undefined;
  };

  const deliverHere = (message: Relayed): void => {
    const holder = held.get(message.dst);
    if (holder) {
      holder.socket.send(JSON.stringify(message));
    } else if (message.type === 'OFFER') {
      // Gone since the sender looked it up: tell the sender's PeerJS, as PeerServer does for an offer that expires.
      void forward({ type: 'EXPIRE', src: message.dst, dst: message.src }).catch(() => {});
    }
  };

  /** Sends a message to the node holding its destination. Resolves false when no node holds it. */
  const forward = async (message: Relayed): Promise<boolean> => {
    const node = await locate(message.dst);
    if (node === undefined) return false;
    if (node === nodeId) deliverHere(message);
    else await withTimeout(redis.publish(`${PREFIX}node:${node}`, JSON.stringify(message)));
    return true;
  };

  /** Messages for ids registered nowhere, oldest first, each with when it expires. */
  const parked = new Map<string, { message: Relayed; until: number }[]>();
  const park = (message: Relayed, until = Date.now() + expireTimeoutMs): void => {
    if (!PARKED_TYPES.has(message.type)) return;
    const waiting = parked.get(message.dst) ?? [];
    waiting.push({ message, until });
    parked.set(message.dst, waiting);
  };
  /** `userId` registered somewhere: what waits for it here goes there, in order. */
  const sendParked = async (userId: string): Promise<void> => {
    const waiting = parked.get(userId);
    parked.delete(userId);
    for (const { message, until } of waiting ?? []) {
      if (!(await forward(message).catch(() => false))) park(message, until);
    }
  };
  /** Expired messages go; the sender of each expired offer hears EXPIRE (PeerJS: `peer-unavailable`), as from PeerServer. */
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [userId, waiting] of parked) {
      const expired = waiting.filter(({ until }) => until <= now);
      if (expired.length === 0) continue;
      const left = waiting.filter(({ until }) => until > now);
      if (left.length > 0) parked.set(userId, left);
      else parked.delete(userId);
      const senders = new Set(expired.filter(({ message }) => message.type === 'OFFER').map(({ message }) => message.src));
      for (const sender of senders) void forward({ type: 'EXPIRE', src: userId, dst: sender }).catch(() => {});
    }
  }, EXPIRY_SWEEP_MS);

  await subscriber.subscribe(channel, (text) => {
    try {
      deliverHere(JSON.parse(text) as Relayed);
    } catch {
      // Only nodes publish here; a frame that is not JSON is not ours to read.
    }
  });
  await subscriber.subscribe(REGISTERED_CHANNEL, (userId) => {
    if (parked.has(userId)) void sendParked(userId);
  });

  /** Keeps the claims alive; a claim found taken by another node means that node won: drop our client. */
  const refresh = setInterval(() => {
    for (const [userId, { socket, value }] of held) {
      claimKey(userId, value).then(
        (ours) => {
          if (!ours) socket.terminate();
        },
        () => {}, // Redis down: try again next round; the claim lives CLAIM_TTL_MS.
      );
    }
  }, REFRESH_MS);

  /**
   * Redis is back (after a restart without persistence it holds no claims, and a node whose
   * subscriber was still away looked gone, so its claims may have been removed): once both
   * connections are up again (the subscriber resubscribed), this node claims its ids again and
   * says they are registered, and sends on what waited here meanwhile, instead of leaving
   * routing across nodes broken until the next refresh and parked messages until they expire.
   */
  const recover = (): void => {
    if (!redis.isReady || !subscriber.isReady) return;
    for (const [userId, { socket, value }] of held) {
      claimKey(userId, value)
        .then(async (ours) => {
          if (ours) await withTimeout(redis.publish(REGISTERED_CHANNEL, userId));
          else socket.terminate(); // Claimed on another node meanwhile: that one holds it.
        })
        .catch(() => {}); // Down again: the next `ready` tries again.
    }
    for (const userId of [...parked.keys()]) void sendParked(userId);
  };
  // Attached after the first connection: these are reconnections.
  redis.on('ready', recover);
  subscriber.on('ready', recover);

  /**
   * A client's messages in order: those for ids registered here go to PeerServer; those for
   * another node's ids go to that node, with `src` set here; those for ids registered nowhere wait.
   */
  const router = (userId: string) => {
    let queue = Promise.resolve();
    let waiting = 0;
    return (data: RawData, deliver: () => void): void => {
      let message: Partial<Relayed> | undefined;
      try {
        message = JSON.parse(String(data)) as Partial<Relayed>;
      } catch {
        message = undefined;
      }
      const local = !message || !ROUTED_TYPES.has(String(message.type)) || typeof message.dst !== 'string' || held.has(message.dst);
      if (local && waiting === 0) return deliver();
      waiting++;
      queue = queue
        .then(async () => {
          if (local) return deliver();
          const relayed: Relayed = { type: String(message!.type), src: userId, dst: message!.dst!, payload: message!.payload };
          const forwarded = await forward(relayed).catch(() => false);
          if (!forwarded) {
            park(relayed);
            onParked?.(relayed);
          }
        })
        .finally(() => {
          waiting--;
        });
    };
  };

  return {
    nodeId,
    redis: redis as unknown as import('redis').RedisClientType,
    isRegistered: async (userId) => (await locate(userId)) !== undefined,
    deliver: forward,
    async claim(userId, token) {
      if (!redis.isReady) return 'unavailable';
      try {
        if (await claimKey(userId, valueOf(token))) return 'claimed';
        // Held: by a live node, or by one that is gone, whose claim `locate` removes; then claim again.
        if ((await locate(userId)) !== undefined) return 'taken';
        return (await claimKey(userId, valueOf(token))) ? 'claimed' : 'taken';
      } catch {
        return 'unavailable';
      }
    },
    hold(userId, token, socket) {
      const value = valueOf(token);
      held.set(userId, { socket, value });
      socket.route = router(userId);
      // Registered now (PeerServer answers OPEN as the socket is handed over): whatever waits for it anywhere comes.
      void withTimeout(redis.publish(REGISTERED_CHANNEL, userId)).catch(() => {});
      if (parked.has(userId)) queueMicrotask(() => void sendParked(userId));
      socket.once('close', () => {
        // A reconnect with the same token replaced this socket: the claim is the new one's.
        if (held.get(userId)?.socket !== socket) return;
        held.delete(userId);
        void release(userId, value);
      });
    },
    release(userId, token) {
      return held.has(userId) ? Promise.resolve() : release(userId, valueOf(token));
    },
    async close() {
      clearInterval(refresh);
      clearInterval(sweep);
      await Promise.all([...held].map(([userId, { value }]) => release(userId, value)));
      held.clear();
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}
