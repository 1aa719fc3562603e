/**
 * One holder per id across the cluster: a key per id in Redis (`<node id> <token>`, with a TTL
 * this node refreshes), claimed atomically before PeerServer registers the id, released when its
 * client leaves, and removed by any node that finds the claim's node gone.
 */
import type { RoutedWebSocket } from '../routed-web-socket.js';
import { channelOf, keyOf, type RedisLink } from './redis.js';

/** What a claim of an id says: registered here now, held elsewhere, or cannot tell (Redis down). */
export type ClaimResult = 'claimed' | 'taken' | 'unavailable';

/** How long a claim lives in Redis without a refresh: what a node that died without releasing leaves behind. */
const CLAIM_TTL_MS = 30_000;
const REFRESH_MS = CLAIM_TTL_MS / 3;

/**
 * A client can hear its node die before Redis does: a killed process's sockets are closed one by
 * one, its clients' perhaps before its Redis connections (seen in the bench: the last client
 * registered on a SIGKILLed node was back on another before Redis had dropped the dead node's
 * subscriber), so that node still looks up for a moment. A claim held by another node that looks
 * up is looked at again after each of these pauses before it is refused.
 */
const RECHECK_MS = [25, 100, 400];

/**
 * Looks up the id's holder and, if that is another node, publishes to its channel: one round trip
 * per message. Returns nil for an id held by no node, else the claim's value and how many heard
 * the message (-1: this node holds it, nothing was published).
 */
const PUBLISH_TO_HOLDER = `local held = redis.call('GET', KEYS[1])
if held == false then return false end
local node = string.sub(held, 1, string.find(held, ' ', 1, true) - 1)
if node == ARGV[1] then return {held, -1} end
return {held, redis.call('PUBLISH', ARGV[2] .. node, ARGV[3])}`;

/** Sets the id's holder if it has none or already is this holder (one script: atomic). */
const CLAIM = `local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** Deletes the id only if this holder still holds it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class Registry {
  /** Ids claimed by clients of this node: their socket and the claim's value. */
  readonly #held = new Map<string, { socket: RoutedWebSocket; value: string }>();
  readonly #link: RedisLink;
  readonly #nodeId: string;
  readonly #refresh: NodeJS.Timeout;

  constructor(link: RedisLink, nodeId: string) {
    this.#link = link;
    this.#nodeId = nodeId;
    // Keeps the claims alive; a claim found taken by another node means that node won: drop our client.
    this.#refresh = setInterval(() => {
      for (const [userId, { socket, value }] of this.#held) {
        this.#claimKey(userId, value).then(
          (ours) => {
            if (!ours) socket.terminate();
          },
          () => {}, // Redis down: try again next round; the claim lives CLAIM_TTL_MS.
        );
      }
    }, REFRESH_MS);
  }

  async claim(userId: string, token: string): Promise<ClaimResult> {
    if (!this.#link.redis.isReady) return 'unavailable';
    const value = this.#valueOf(token);
    try {
      for (let attempt = 0; ; attempt++) {
        if (await this.#claimKey(userId, value)) return 'claimed';
        // Held: by a live node, or by one that is gone, whose claim `locate` removes; then claim again.
        const holder = await this.locate(userId);
        if (holder === undefined && attempt <= RECHECK_MS.length) continue;
        if (holder === undefined || holder === this.#nodeId || attempt >= RECHECK_MS.length) return 'taken';
        await new Promise((resolve) => setTimeout(resolve, RECHECK_MS[attempt]));
      }
    } catch {
      return 'unavailable';
    }
  }

  /** The claimed id's socket is registered here now: refresh its claim, release it when it closes. */
  hold(userId: string, token: string, socket: RoutedWebSocket): void {
    const value = this.#valueOf(token);
    this.#held.set(userId, { socket, value });
    socket.once('close', () => {
      // A reconnect with the same token replaced this socket: the claim is the new one's.
      if (this.#held.get(userId)?.socket !== socket) return;
      this.#held.delete(userId);
      void this.#release(userId, value);
    });
  }

  /** Gives a claim back when its client went away before registering. */
  release(userId: string, token: string): Promise<void> {
    return this.#held.has(userId) ? Promise.resolve() : this.#release(userId, this.#valueOf(token));
  }

  /**
   * Where `userId` is registered: this node's id, another node's, or undefined. A claim left by
   * a node that is gone is removed (only if unchanged), so its users need not wait for its TTL.
   */
  async locate(userId: string): Promise<string | undefined> {
    const value = await this.#link.call(() => this.#link.redis.get(keyOf(userId)));
    if (value === null) return undefined;
    const node = value.slice(0, value.indexOf(' '));
    if (node === this.#nodeId || (await this.#isUp(node))) return node;
    await this.#release(userId, value);
    return undefined;
  }

  /**
   * Sends `text` to the node where `userId` is registered, in one round trip: 'published' (that
   * node's subscriber heard it), 'here' (this node holds the claim: deliver it here), or 'nowhere'.
   * Nobody hearing it on the holder's channel means that node is gone (a crash, SIGKILL), as
   * PUBSUB NUMSUB would say: its claim is removed, as `locate` does, and nothing was delivered.
   */
  async publishToHolder(userId: string, text: string): Promise<'published' | 'here' | 'nowhere'> {
    const found = (await this.#link.call(() => this.#link.redis.eval(PUBLISH_TO_HOLDER, { keys: [keyOf(userId)], arguments: [this.#nodeId, channelOf(''), text] }))) as
      | [string, number]
      | null;
    if (!found) return 'nowhere';
    const [held, heard] = found;
    if (heard < 0) return 'here';
    if (heard > 0) return 'published';
    await this.#release(userId, held);
    return 'nowhere';
  }

  /** Claims every held id again (Redis is back, perhaps empty); `claimed` hears each that is still ours. */
  reclaim(claimed: (userId: string) => Promise<void>): void {
    for (const [userId, { socket, value }] of this.#held) {
      this.#claimKey(userId, value)
        .then(async (ours) => {
          if (ours) await claimed(userId);
          else socket.terminate(); // Claimed on another node meanwhile: that one holds it.
        })
        .catch(() => {}); // Down again: the next `ready` tries again.
    }
  }

  /** Releases every id held here. */
  async close(): Promise<void> {
    clearInterval(this.#refresh);
    await Promise.all([...this.#held].map(([userId, { value }]) => this.#release(userId, value)));
    this.#held.clear();
  }

  #valueOf(token: string): string {
    return `${this.#nodeId} ${token}`;
  }

  async #claimKey(userId: string, value: string): Promise<boolean> {
    return (await this.#link.call(() => this.#link.redis.eval(CLAIM, { keys: [keyOf(userId)], arguments: [value, String(CLAIM_TTL_MS)] }))) === 1;
  }

  async #release(userId: string, value: string): Promise<void> {
    await this.#link.call(() => this.#link.redis.eval(RELEASE, { keys: [keyOf(userId)], arguments: [value] })).catch(() => {});
  }

  /** A running node listens on its channel; none does for one that died without closing (a crash, SIGKILL). */
  async #isUp(node: string): Promise<boolean> {
    const listeners = await this.#link.call(() => this.#link.redis.pubSubNumSub(channelOf(node)));
    return Number(listeners[channelOf(node)] ?? 0) > 0;
  }
}
