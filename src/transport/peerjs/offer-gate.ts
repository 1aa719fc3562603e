/**
 * Which connection offers get in. Before PeerJS builds an RTCPeerConnection for
 * an offer: none from a peer cut off, and none faster than
 * OFFERS_PER_PEER_PER_SECOND from one peer (a violation). There is no total
 * allowance: an honest offer dropped unseen would wait a whole
 * `connectTimeoutMs`; all peers together are bounded by
 * `maxPendingInboundConnections` instead, once built (links.ts). Once built, a
 * connection must be the kind we speak: reliable JSON.
 */
import type { DataConnection } from 'peerjs';
import { TokenBucket } from '../../core/token-bucket.js';
import { MAX_REMEMBERED_PEERS } from './dial-queue.js';
import { closeQuietly } from './link.js';
import type { ViolationPolicy } from '../violation-policy.js';

/** Connection offers one peer may make per second, sustained, and at once. */
const OFFERS_PER_PEER_PER_SECOND = 2;
const OFFER_BURST_PER_PEER = 5;

export class OfferGate {
  readonly #byPeer = new Map<string, TokenBucket>();
  readonly #policy: ViolationPolicy;
  readonly #now: () => number;
  #refused = 0;

  constructor(policy: ViolationPolicy, now: () => number) {
    this.#policy = policy;
    this.#now = now;
  }

  /** Offers dropped unseen so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Whether to take an offer from `from`; false drops it unseen. */
  admit(from: string): boolean {
    if (this.#policy.isBanned(from)) {
      this.#refused++;
      return false;
    }
    if (this.#bucket(from).take()) return true;
    this.#refused++;
    this.#policy.count({ peer: from, reason: `offered more than ${OFFERS_PER_PEER_PER_SECOND} connections per second` });
    return false;
  }

  /** Whether a connection PeerJS built is one to keep; closes it (a violation if it is the wrong kind) if not. */
  accepts(connection: DataConnection): boolean {
    const { peer } = connection;
    if (this.#policy.isBanned(peer)) {
      closeQuietly(connection);
      return false;
    }
    if (connection.serialization === 'json' && connection.reliable) return true;
    closeQuietly(connection);
    const kind = `${connection.reliable ? '' : 'unreliable '}${connection.serialization}`;
    this.#policy.count({ peer, reason: `opened a ${kind} connection; only reliable JSON connections are spoken here` });
    return false;
  }

  #bucket(from: string): TokenBucket {
    let bucket = this.#byPeer.get(from);
    if (!bucket) {
      if (this.#byPeer.size >= MAX_REMEMBERED_PEERS) this.#byPeer.delete(this.#byPeer.keys().next().value as string);
      bucket = new TokenBucket({ perSecond: OFFERS_PER_PEER_PER_SECOND, burst: OFFER_BURST_PER_PEER }, this.#now);
      this.#byPeer.set(from, bucket);
    }
    return bucket;
  }
}
