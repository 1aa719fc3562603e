/** One DataConnection and what we know of it, and two helpers every part of the transport uses. */
import type { DataConnection } from 'peerjs';
import type { Subscription } from 'rxjs';
import { InvitationError } from '../../errors.js';
import type { TokenBucket } from '../../core/token-bucket.js';

/** One DataConnection and what we know of it. */
export interface Link {
  readonly peer: string;
  readonly connection: DataConnection;
  /** Opened by the remote peer. */
  readonly inbound: boolean;
  /** Creation order, across all links. */
  readonly serial: number;
  open: boolean;
  /** When it opened (clock ms); the newest open link is the one to write on first. */
  openedAt: number;
  dropped: boolean;
  /** The remote's message allowance. */
  readonly bucket: TokenBucket;
  /** Settles when the connection opens or fails. */
  readonly opened: Promise<void>;
  /** Last frame of any kind, pings included: is the other end alive? */
  lastHeard: number;
  /** Last real message either way: is the link still worth keeping? */
  lastUsed: number;
  /** Timers and listeners, released once in `drop`. */
  readonly teardown: Subscription;
  settle(error?: InvitationError): void;
}

export function unreachable(message: string, cause?: unknown): InvitationError {
  return new InvitationError('PEER_UNREACHABLE', message, cause === undefined ? undefined : { cause });
}

export function closeQuietly(connection: DataConnection): void {
  try {
    connection.close();
  } catch {
    // Closing a connection that never opened can throw inside PeerJS; it is gone either way.
  }
}
