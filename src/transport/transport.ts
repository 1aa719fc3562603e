/**
 * What the plugin needs from a network: register an id, send a message to a
 * peer, hear frames and peers. The PeerJS implementation is peerjs/peerjs-transport.ts;
 * unit tests plug in an in-memory one.
 */
import type { Observable, SchedulerLike } from 'rxjs';
import type { Clock } from '../core/clock.js';
import type { InvitationError } from '../errors.js';
import type { Message } from '../core/protocol.js';
import type { PushServerLink } from '../push/enable-push.js';
import type { ConnectionState, PeerServerOptions, ResolvedDeliveryOptions, ResolvedLimitOptions, TokenSource } from '../api/types.js';

export interface IncomingFrame {
  /** The remote peer id of the connection the frame came on: the only identity we trust. */
  from: string;
  /** Whatever arrived, unchecked. */
  frame: unknown;
}

/** A peer broke the protocol or a limit: what the transport saw, or what the session told it. */
export interface PeerViolation {
  peer: string;
  reason: string;
}

/** A peer that is online (it answered, or offered) but that no connection could reach. */
export interface PeerUnreachable {
  peer: string;
  /** What failed, for people. */
  reason: string;
}

export interface TransportStats {
  /** Outgoing connections attempted since the transport was created. */
  connectAttempts: number;
  /** Connections open now, both directions. */
  openConnections: number;
  /** Connections still opening, both directions. */
  openingConnections?: number;
  /** Connection offers dropped unseen since the transport was created: from peers cut off, or too many at once. */
  refusedOffers?: number;
  /** Peers cut off for a cool-down now. */
  bannedPeers?: number;
}

export interface Transport {
  /** Replays the current state. */
  readonly state$: Observable<ConnectionState>;
  readonly frames$: Observable<IncomingFrame>;
  /** A connection with this peer opened: it is online, so whatever waits for it can go now. */
  readonly linkOpened$: Observable<string>;
  /**
   * A connection with this peer that was open closed: what was written on it may be lost.
   * Not emitted while the transport closes.
   */
  readonly linkClosed$: Observable<string>;
  /**
   * Background faults that lose nothing but are worth knowing. Violations appear here
   * as `PROTOCOL_VIOLATION` at most once per peer per cool-down (violation-policy.ts).
   */
  readonly errors$: Observable<InvitationError>;
  /**
   * A connection with a peer that is online could not open (ICE failed, or not open in
   * time after its answer): no network path between the two browsers. Each failed
   * attempt says it once; a peer that is offline is not "unreachable".
   */
  readonly unreachable$: Observable<PeerUnreachable>;
  /** Registers the id with the server. Rejects with `USER_ID_TAKEN`, `UNAUTHORIZED` or `SERVER_UNREACHABLE`. */
  open(): Promise<void>;
  /** Whether a connection with `to` is open now, so that `send` would not throw. */
  isOpen(to: string): boolean;
  /**
   * Resolves once a connection with `to` is open, opening one if needed.
   * Rejects with `NOT_CONNECTED` or `PEER_UNREACHABLE`. When it has to offer a new
   * connection, the offer carries `ring` (what is in flight to `to`), which the
   * receiver reads as frames from us whether or not the connection ever opens.
   */
  connect(to: string, ring?: readonly Message[]): Promise<void>;
  /** Whether a new connection's offer carries its `ring` (see `connect`), so that what rode on it may be known to the peer. */
  readonly offersCarryRing: boolean;
  /** Whether `send` to a peer with no open connection goes through the server (its relay) now. */
  canRelay(): boolean;
  /**
   * Writes a message on the open connections with `to`, else through the server's relay
   * when it offers one; throws `PEER_UNREACHABLE` when neither is there.
   * Returning says nothing about arrival: that is what acks are for.
   */
  send(to: string, message: Message): void;
  /**
   * Counts a violation by `peer` (a frame the session dropped). The
   * `violationsBeforeCooldown`th within a cool-down bans the peer: its connections
   * close, it is ignored (inbound connections closed at once, `connect` rejected with
   * `PEER_UNREACHABLE`) for `cooldownMs`.
   */
  reportViolation(violation: PeerViolation): void;
  /** Whether `peer` is cut off now; frames already read from it are best dropped. */
  isBanned(peer: string): boolean;
  stats(): TransportStats;
  /**
   * The companion server's Web Push (PUSH-SUBSCRIBE/UNSUBSCRIBE → PUSH-RESULT, the VAPID key of its
   * SERVER-INFO); absent where the network has no such server (the memory transport).
   */
  readonly push?: PushServerLink;
  /** Closes every connection and leaves the server; safe to call twice. */
  close(): void;
}

export interface TransportContext {
  id: string;
  /** The plugin's clock (clock.ts): measure time with it, never with `Date.now`. */
  clock: Clock;
  peer: PeerServerOptions;
  /** Asked for each registration, when set. */
  token?: TokenSource;
  delivery: ResolvedDeliveryOptions;
  /** What peers may cost: rates, connections, the cool-down (limits.ts). */
  limits: ResolvedLimitOptions;
  scheduler: SchedulerLike;
}

export type TransportFactory = (context: TransportContext) => Transport;
