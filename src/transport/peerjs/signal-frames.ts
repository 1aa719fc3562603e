/**
 * Protocol messages that arrive beside the data channel: in a connection
 * offer's metadata (ring on the offer) and relayed by the companion server.
 * Each is handed up as a frame from the peer the server named (the offer's or
 * the relay's `src`), within a per-peer message allowance, exactly as a frame
 * read from a data channel: the session decodes, validates and dedupes it.
 */
import { TokenBucket } from '../../core/token-bucket.js';
import { MAX_REMEMBERED_PEERS } from './dial-queue.js';
import type { PeerViolation, TransportContext } from '../transport.js';

/** The most an offer's `peerInvitation` may weigh, as JSON (PROTOCOL.md). */
export const MAX_RING_BYTES = 16_000;
/** The most messages one offer may carry. */
export const MAX_RING_MESSAGES = 16;

/**
 * Invites beside a channel this soon after we registered are not read. The server hands
 * over what it parked for us (offers: `expire_timeout`, 5 s on a plain PeerServer, 60 s in
 * the companion's mailbox; relayed messages too) right after OPEN, and an invite parked
 * for an unknown time carries a stale `remainingMs`: it would ring past the inviter's
 * deadline. The channel, or the inviter's next offer, brings a fresh copy.
 */
export const PARKED_WINDOW_MS = 1000;

export interface SignalFrameHost {
  frame(from: string, frame: unknown): void;
  violation(violation: PeerViolation): void;
}

/** What an offer to a peer carries: as many of `ring`, in order, as fit MAX_RING_BYTES; never a truncated one. */
export function ringMetadata(ring: readonly unknown[]): { peerInvitation: unknown[] } | undefined {
  const fitted: unknown[] = [];
  for (const message of ring.slice(0, MAX_RING_MESSAGES)) {
    if (jsonBytes([...fitted, message]) > MAX_RING_BYTES) break;
    fitted.push(message);
  }
  return fitted.length > 0 ? { peerInvitation: fitted } : undefined;
}

export class SignalFrames {
  readonly #buckets = new Map<string, TokenBucket>();
  #registeredAt = -Infinity;
  readonly #context: TransportContext;
  readonly #host: SignalFrameHost;

  constructor(context: TransportContext, host: SignalFrameHost) {
    this.#context = context;
    this.#host = host;
  }

  /** The messages an offer from `peer` carried; metadata without `peerInvitation` is someone else's business. */
  fromOffer(peer: string, metadata: unknown): void {
    if (typeof metadata !== 'object' || metadata === null || !('peerInvitation' in metadata)) return;
    const ring = (metadata as { peerInvitation: unknown }).peerInvitation;
    if (!Array.isArray(ring) || ring.length > MAX_RING_MESSAGES || jsonBytes(ring) > MAX_RING_BYTES) {
      return this.#host.violation({ peer, reason: `offered a connection whose peerInvitation is not a list of at most ${MAX_RING_MESSAGES} messages within ${MAX_RING_BYTES} bytes` });
    }
    for (const frame of ring) this.#accept(peer, frame);
  }

  /** The server just accepted our registration (the Peer's `open`): what it parked for us follows. */
  registered(): void {
    this.#registeredAt = this.#context.clock.now();
  }

  /** A message the server relayed from `peer`. */
  fromRelay(peer: string, payload: unknown): void {
    this.#accept(peer, payload);
  }

  #accept(peer: string, frame: unknown): void {
    if (isInvite(frame) && this.#context.clock.now() - this.#registeredAt < PARKED_WINDOW_MS) return;
    if (this.#bucket(peer).take()) return this.#host.frame(peer, frame);
    const { maxMessagesPerSecond } = this.#context.limits;
    this.#host.violation({ peer, reason: `sent more than ${maxMessagesPerSecond} messages per second beside a data channel; the excess was dropped` });
  }

  #bucket(peer: string): TokenBucket {
    let bucket = this.#buckets.get(peer);
    if (!bucket) {
      if (this.#buckets.size >= MAX_REMEMBERED_PEERS) this.#buckets.delete(this.#buckets.keys().next().value as string);
      const { maxMessagesPerSecond } = this.#context.limits;
      bucket = new TokenBucket({ perSecond: maxMessagesPerSecond, burst: 2 * maxMessagesPerSecond }, () => this.#context.clock.now());
      this.#buckets.set(peer, bucket);
    }
    return bucket;
  }
}

function isInvite(frame: unknown): boolean {
  return typeof frame === 'object' && frame !== null && (frame as { kind?: unknown }).kind === 'invite';
}

function jsonBytes(value: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(value)).byteLength;
  } catch {
    return Infinity;
  }
}
