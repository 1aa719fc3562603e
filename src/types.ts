import type { SchedulerLike } from 'rxjs';
import type { InvitationError } from './errors.js';
import type { OpenStore } from './store.js';
import type { TransportFactory } from './transport.js';

/** What `connectionState$` reports about our registration with the PeerServer. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** An invitee's state as the inviter sees it. */
export type InviteeState = 'queued' | 'delivered' | 'accepted' | 'refused' | 'canceled' | 'timeout';

export interface User {
  id: string;
  name: string;
}

/** Options for `createSignalingPlugin`. Every field is optional. */
export interface SignalingPluginOptions {
  /**
   * PeerJS options, passed through to `new Peer(id, options)`: host, port, path, key, secure, config...
   * Point them at your own PeerServer. Without them PeerJS uses its public cloud server
   * and public STUN servers, which are not for production.
   */
  peer?: PeerServerOptions;
  /**
   * Proof, from your backend, that this browser may register the user's id: the companion
   * server (`peer-invitation/server`) registers an id only with a token that verifies.
   * A function is called with the user id for each registration (`connectUser`, and each
   * new Peer while reconnecting), so it can fetch a fresh token when the last one expired.
   * Takes precedence over `peer.token`. A refusal is `UNAUTHORIZED`.
   */
  token?: TokenSource;
  /**
   * Global switch from the seed API: an invitation carries its `notificationConfig` only
   * when this and the config's own `notifyWhenAppIsInTheBackgroundOrQuit` are both true.
   * Default false.
   */
  notifyWhenAppIsInTheBackgroundOrQuit?: boolean;
  /**
   * Where unanswered invitations and undelivered messages are kept: `'indexeddb'` (default)
   * survives reloads; `'memory'` lasts one page life. A function that opens an `InvitationStore`
   * may be given instead.
   */
  storage?: 'indexeddb' | 'memory' | OpenStore;
  /** IndexedDB database name. Default `peer-invitation:<user id>`, one database per user. */
  databaseName?: string;
  /**
   * Shows a notification for an incoming invitation that carries a `notificationConfig`.
   * Returns a function that closes it, called when the invitation ends.
   * Default: a system `Notification` when the document is hidden and permission is granted.
   */
  notify?: (request: NotificationRequest) => (() => void) | void;
  /** Delivery timings. The defaults suit a real network; tests shorten them. */
  delivery?: DeliveryOptions;
  /** Scheduler for every timer (timeouts, retries, heartbeats). Default: RxJS `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Makes invitation ids. Default: `crypto.randomUUID()`. */
  createInvitationID?: () => string;
  /** Replaces the PeerJS transport (an in-memory one for unit tests). */
  transport?: TransportFactory;
}

/** A registration token, or a function that gets one for a user id (for example from your backend). */
export type TokenSource = string | ((userId: string) => string | Promise<string>);

/** The PeerJS options the plugin passes through to `new Peer(id, options)`. */
export interface PeerServerOptions {
  host?: string;
  port?: number;
  path?: string;
  key?: string;
  token?: string;
  secure?: boolean;
  /** `RTCConfiguration`: ICE servers. Use `{ iceServers: [] }` on a LAN or in tests. */
  config?: RTCConfiguration;
  /** PeerJS log level, 0 (none) to 3 (all). */
  debug?: 0 | 1 | 2 | 3;
  /** Interval of PeerJS's keep-alive to the server, ms. */
  pingInterval?: number;
  referrerPolicy?: ReferrerPolicy;
}

export interface DeliveryOptions {
  /** How long to wait for a peer's acknowledgement before the message is sent again. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** First delay before retrying delivery to an unreachable peer; doubles up to `retryMaxDelayMs`. Default 500 ms. */
  retryInitialDelayMs?: number;
  /** Cap on the retry delay. Default 3000 ms. */
  retryMaxDelayMs?: number;
  /**
   * How long a connection to a peer may take to open. Keep it above the PeerServer's `expire_timeout`, how long
   * the server parks an offer for an offline peer: the server's `peer-unavailable` then ends the attempt, and a
   * peer that registers meanwhile is reached at once. Default 65000 ms, for the companion server's 60 s; a plain
   * PeerServer (5 s) ends attempts to offline peers after about 6 s anyway.
   */
  connectTimeoutMs?: number;
  /** Interval of keep-alive pings on open connections; a connection silent for 3 intervals is closed. Default 2000 ms. */
  heartbeatIntervalMs?: number;
  /** A connection with no traffic but pings for this long is closed. Default 30000 ms. */
  idleTimeoutMs?: number;
  /** At most this many open connections; the least recently used idle one is closed first. Default 64. */
  maxConnections?: number;
  /** Answered or expired invitations are remembered this long after their deadline, to drop replays. Default 60000 ms. */
  retentionMs?: number;
  /**
   * How long `connectUser` keeps trying an id the PeerServer says is taken before rejecting with
   * `USER_ID_TAKEN`: after a reload the server may not yet have seen the old page's socket close. Default 3000 ms.
   */
  idTakenRetryMs?: number;
  /** How long one registration with the PeerServer may take (`connectUser`, or a reconnect attempt before the Peer is recreated). Default 5000 ms. */
  reconnectTimeoutMs?: number;
  /** Cap on the delay between PeerServer reconnect attempts. Default 10000 ms. */
  reconnectMaxDelayMs?: number;
}

export type ResolvedDeliveryOptions = Required<DeliveryOptions>;

/** The seed's notification settings for one invitation. */
export interface NotificationConfig {
  notifyWhenAppIsInTheBackgroundOrQuit: boolean;
  resourceID?: string;
  title?: string;
  message?: string;
}

export interface NotificationRequest {
  invitationID: string;
  inviter: User;
  type: number;
  data: string;
  resourceID?: string;
  title?: string;
  message?: string;
}

export interface ConnectUserParams {
  id: string;
  name: string;
}

export interface SendInvitationParams {
  inviterName: string;
  invitees: readonly string[];
  /** Seconds, finite, > 0, at most 600; fractions allowed. */
  timeout: number;
  /** Call type, an integer (for example 0 voice, 1 video). */
  type: number;
  /** Extended data for the invitees, at most 8 KiB of UTF-8. */
  data: string;
  notificationConfig?: NotificationConfig;
}

/** Why an invitee was left out of an invitation. */
export type InviteeErrorReason = 'invalid-id' | 'self';

export interface SendInvitationResult {
  /** `''` when nothing was sent. */
  invitationID: string;
  errorInvitees: Record<string, InviteeErrorReason>;
  error?: InvitationError;
}

export interface CancelInvitationParams {
  invitationID: string;
  /** Default: every invitee that has not answered yet. */
  invitees?: readonly string[];
  data?: string;
}

export interface CancelInvitationResult {
  invitationID: string;
  /** Invitees that could not be canceled: already answered, timed out, canceled, or never invited. */
  errorInvitees: string[];
  error?: InvitationError;
}

export interface RespondInvitationParams {
  invitationID: string;
  data?: string;
}

export interface RespondInvitationResult {
  invitationID: string;
  error?: InvitationError;
}

export interface InvitationReceivedEvent {
  invitationID: string;
  inviter: User;
  type: number;
  data: string;
  /** Seconds left to answer when this event was emitted (the remaining time, not the original timeout). */
  timeout: number;
  /** When the invitation reached this plugin (ms since the epoch, local clock). */
  createTime: number;
  /** When it times out here (ms since the epoch, local clock). */
  deadline: number;
}

export interface InvitationCanceledEvent {
  invitationID: string;
  inviter: User;
  data: string;
}

export interface InvitationAnsweredEvent {
  invitationID: string;
  invitee: string;
  data: string;
}

export interface InvitationTimeoutEvent {
  invitationID: string;
  inviter: User;
}

export interface InvitationResponseTimeoutEvent {
  invitationID: string;
  invitees: string[];
}

export interface InviteeStateChangedEvent {
  invitationID: string;
  invitee: string;
  state: InviteeState;
}
