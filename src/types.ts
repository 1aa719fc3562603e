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
  /** What one peer, and all peers together, may cost this plugin. The defaults suit one person's calls. */
  limits?: LimitOptions;
  /**
   * Decides whether a new invitation may ring, before anything from it is stored, announced
   * or notified. `false` refuses it on the wire: the inviter sees `invitationRefused$` with
   * `reason: 'blocked'`. Default: every invitation within `limits` rings.
   */
  shouldRing?: (invitation: InvitationReceivedEvent) => boolean | Promise<boolean>;
  /** Scheduler for every timer (timeouts, retries, heartbeats). Default: RxJS `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Makes invitation ids. Default: `crypto.randomUUID()`. */
  createInvitationID?: () => string;
  /** Replaces the PeerJS transport (an in-memory one for unit tests). */
  transport?: TransportFactory;
}

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
  /** How long a connection to a peer may take to open. Default 10000 ms (longer than PeerServer's 5 s `expire_timeout`). */
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
  /** How long one PeerServer reconnect attempt may take before the Peer is recreated. Default 5000 ms. */
  reconnectTimeoutMs?: number;
  /** Cap on the delay between PeerServer reconnect attempts. Default 10000 ms. */
  reconnectMaxDelayMs?: number;
}

export type ResolvedDeliveryOptions = Required<DeliveryOptions>;

/**
 * Bounds on what peers can make this plugin hold or do. A peer that breaks them
 * (or the protocol) `violationsBeforeCooldown` times is cut off for `cooldownMs`.
 */
export interface LimitOptions {
  /** Invitations from one inviter that may ring at once; more are refused as `busy`. Default 5. */
  maxLiveInvitationsPerInviter?: number;
  /** Received invitations held in memory and storage, all inviters together. Default 500. */
  maxStoredInvitations?: number;
  /** UTF-8 bytes of received invitations held, all inviters together. Default 4 MiB. */
  maxStoredBytes?: number;
  /** Cancels for invitations we never had, remembered per peer. Default 20. */
  maxUnknownCancelsPerPeer?: number;
  /**
   * Frames per second one connection may send, sustained, with bursts of twice as many;
   * more are dropped as violations. Default 50.
   */
  maxMessagesPerSecond?: number;
  /** Inbound connections still opening, all peers together; the oldest is closed to make room. Default 16. */
  maxPendingInboundConnections?: number;
  /** Violations by one peer (within `cooldownMs` of each other) before it is cut off. Default 10. */
  violationsBeforeCooldown?: number;
  /** How long a peer that was cut off is ignored: its connections are closed at once. Default 60000 ms. */
  cooldownMs?: number;
}

export type ResolvedLimitOptions = Required<LimitOptions>;

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

/** Why an invitee's plugin refused an invitation without asking its user. */
export type RefusalReason = 'busy' | 'blocked';

export interface InvitationAnsweredEvent {
  invitationID: string;
  invitee: string;
  data: string;
  /**
   * Only on `invitationRefused$`, when the invitee's plugin refused by itself: `busy` (over one
   * of its `limits`) or `blocked` (its app's `shouldRing` said no). Absent: a person refused.
   */
  reason?: RefusalReason;
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
