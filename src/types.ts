/**
 * The plain data of the public API: states, parameters and events. Imports
 * nothing, so every other module can use it without a cycle.
 */
/** What `connectionState$` reports about our registration with the PeerServer. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** An invitee's state as the inviter sees it. */
export type InviteeState = 'queued' | 'delivered' | 'accepted' | 'refused' | 'canceled' | 'timeout';

export interface User {
  id: string;
  name: string;
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
  /** At most this many retried connection attempts and reconnect greetings under way at once; the others wait their turn. Default 8. */
  maxConcurrentConnects?: number;
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
 * What one peer, and all peers together, may make this plugin hold and do. What is
 * over a limit is refused on the wire (an invite is acked with `refused: 'busy'`),
 * never stored, announced or notified. The defaults suit people calling people.
 */
export interface InvitationLimits {
  /** Invitations from one inviter ringing here at once. Default 5. */
  maxLiveInvitationsPerInviter?: number;
  /** Invitations held here, sent and received, until purged. Default 500. */
  maxStoredInvitations?: number;
  /** UTF-8 bytes of `data`, names and notification texts held here. Default 4 MiB. */
  maxStoredBytes?: number;
  /** Cancels for invitations not seen yet (kept to drop the invite that follows), per peer. Default 20. */
  maxUnknownCancelsPerPeer?: number;
  /** Messages a connection may carry each second, on average. Default 50. */
  maxMessagesPerSecond?: number;
  /** Messages a connection may carry at once above that rate. Default 100. */
  maxMessageBurst?: number;
  /** Inbound connections still opening, in total. Default 16. */
  maxPendingInboundConnections?: number;
  /** Violations of the protocol or of these limits before a peer is cut off. Default 10. */
  violationsBeforeCooldown?: number;
  /** How long a cut-off peer is ignored, and how often at most `errors$` reports it. Default 60000 ms. */
  cooldownMs?: number;
}

export type ResolvedLimits = Required<InvitationLimits>;

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

export interface CancelInvitationParams {
  invitationID: string;
  /** Default: every invitee that has not answered yet. */
  invitees?: readonly string[];
  data?: string;
}

export interface RespondInvitationParams {
  invitationID: string;
  data?: string;
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

/** Another tab of the same user answered an invitation this tab was told of (see README, "Several tabs"). */
export interface InvitationAnsweredElsewhereEvent {
  invitationID: string;
  answer: 'accept' | 'refuse';
  data: string;
}

export interface InvitationAnsweredEvent {
  invitationID: string;
  invitee: string;
  data: string;
  /**
   * Only on `invitationRefused$`, when no person refused: `'busy'`, the invitee's plugin
   * was over one of its limits; `'blocked'`, the invitee's app (`shouldRing`) turned it away.
   */
  reason?: 'busy' | 'blocked';
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
