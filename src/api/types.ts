/**
 * The vocabulary every layer shares: the states, and the options the network
 * layer (src/transport) reads. Imports nothing, so any module can use it
 * without a cycle. index.ts exports all but the resolved forms.
 */
/** What `connectionState$` reports about our registration with the PeerServer. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** An invitee's state as the inviter sees it. */
export type InviteeState = 'queued' | 'delivered' | 'accepted' | 'refused' | 'canceled' | 'timeout';

/** Why an invitee's plugin refused an invitation without asking its user. */
export type RefusalReason = 'busy' | 'blocked' | 'overloaded';

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

/**
 * Bounds on what peers can make this plugin hold or do. A peer that breaks them
 * (or the protocol) `violationsBeforeCooldown` times is cut off for `cooldownMs`.
 */
export interface LimitOptions {
  /** Invitations from one inviter that may ring at once; more are refused as `overloaded` (`busy` to a v2 inviter). Default 5. */
  maxLiveInvitationsPerInviter?: number;
  /** Invitations held in memory and storage, sent and received together; more are refused as `overloaded` (`busy` to a v2 inviter). Default 500. */
  maxStoredInvitations?: number;
  /** UTF-8 bytes of the texts held (data, names, notification texts), all invitations together. Default 4 MiB. */
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
