/**
 * What the plugin needs from a network: register an id, send a message to a
 * peer, hear frames and peers. The PeerJS implementation is peerjs-transport.ts;
 * unit tests plug in an in-memory one.
 */
import type { Observable, SchedulerLike } from 'rxjs';
import type { Clock } from './clock.js';
import type { InvitationError } from './errors.js';
import type { Message } from './protocol.js';
import type { ConnectionState, PeerServerOptions, ResolvedDeliveryOptions, TokenSource } from './types.js';

export interface IncomingFrame {
  /** The remote peer id of the connection the frame came on: the only identity we trust. */
  from: string;
  /** Whatever arrived, unchecked. */
  frame: unknown;
}

export interface TransportStats {
  /** Outgoing connections attempted since the transport was created. */
  connectAttempts: number;
  /** Connections open now, both directions. */
  openConnections: number;
}

export interface Transport {
  /** Replays the current state. */
  readonly state$: Observable<ConnectionState>;
  readonly frames$: Observable<IncomingFrame>;
  /** A connection with this peer opened: it is online, so whatever waits for it can go now. */
  readonly peerOnline$: Observable<string>;
  /** Background faults that lose nothing but are worth knowing. */
  readonly errors$: Observable<InvitationError>;
  /** Registers the id with the server. Rejects with `USER_ID_TAKEN`, `UNAUTHORIZED` or `SERVER_UNREACHABLE`. */
  open(): Promise<void>;
  /** Whether a connection with `to` is open now, so that `send` would not throw. */
  isOpen(to: string): boolean;
  /**
   * Resolves once a connection with `to` is open, opening one if needed.
   * Rejects with `NOT_CONNECTED` or `PEER_UNREACHABLE`.
   */
  connect(to: string): Promise<void>;
  /**
   * Writes a message on an open connection with `to`; throws `PEER_UNREACHABLE` when there is none.
   * Returning says nothing about arrival: that is what acks are for.
   */
  send(to: string, message: Message): void;
  /**
   * Cuts a peer off for `ms`: closes its connections, and refuses new ones from it
   * (and never opens one to it) until then.
   */
  ban(peer: string, ms: number): void;
  stats(): TransportStats;
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
  scheduler: SchedulerLike;
}

export type TransportFactory = (context: TransportContext) => Transport;
