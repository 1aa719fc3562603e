/** The options of `createSignalingPlugin`, and the types of their fields. */
import type { SchedulerLike } from 'rxjs';
import type { OpenStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import type { InvitationReceivedEvent } from './events.js';
import type { User } from './calls.js';

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
   * Whether the tabs of one browser profile that connect as the same user share one
   * connection (see README, "Several tabs"). Default true; it needs `storage: 'indexeddb'`,
   * Web Locks and BroadcastChannel, and is off without them. False: a second tab of the
   * user gets `USER_ID_TAKEN`.
   */
  tabs?: boolean;
  /**
   * Shows a notification for an incoming invitation that carries a `notificationConfig`.
   * Returns a function that closes it, called when the invitation ends.
   * Default: a system `Notification` when the document is hidden and permission is granted.
   */
  notify?: (request: NotificationRequest) => (() => void) | void;
  /** Delivery timings. The defaults suit a real network; tests shorten them. */
  delivery?: DeliveryOptions;
  /**
   * Scheduler for every timer (timeouts, retries, heartbeats). Default: RxJS `asyncScheduler`.
   * A scheduler given here is also the monotonic clock: its `now()` measures elapsed time.
   */
  scheduler?: SchedulerLike;
  /**
   * The wall clock, ms since the epoch: `createTime` and `deadline` of events, and the way a page
   * that was suspended (laptop sleep, a frozen tab) notices the time it lost. Default `Date.now`,
   * or the `scheduler`'s `now()` when a scheduler is given. Elapsed time is the larger of what this
   * clock and the monotonic clock measured, so a wall clock set back never extends an invitation.
   */
  wallClock?: () => number;
  /** Makes invitation ids. Default: `crypto.randomUUID()`. */
  createInvitationID?: () => string;
  /** Replaces the PeerJS transport (an in-memory one for unit tests). */
  transport?: TransportFactory;
  /** What one peer, and all together, may make this plugin hold and do. */
  limits?: LimitOptions;
  /**
   * Decides whether a new invitation may ring (block lists, contacts only, do not disturb).
   * Runs before anything of it is stored, announced or notified; `false` refuses it on the
   * wire (the inviter sees `invitationRefused$` with `reason: 'blocked'`). A callback that
   * throws is reported on `errors$`, and the invitation rings.
   */
  shouldRing?: (invitation: InvitationReceivedEvent) => boolean | Promise<boolean>;
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

/**
 * Bounds on what peers can make this plugin hold or do. A peer that breaks them
 * (or the protocol) `violationsBeforeCooldown` times is cut off for `cooldownMs`.
 */
export interface LimitOptions {
  /** Invitations from one inviter that may ring at once; more are refused as `busy`. Default 5. */
  maxLiveInvitationsPerInviter?: number;
  /** Invitations held in memory and storage, sent and received together; more are refused as `busy`. Default 500. */
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

/** What `notify` is asked to show. Only `inviter.id` is verified; everything else is the inviter's word. */
export interface NotificationRequest {
  invitationID: string;
  inviter: User;
  type: number;
  data: string;
  resourceID?: string;
  /** "<verified id> (<claimed name>) is calling": built by the plugin, never the inviter's own title. */
  title?: string;
  /** The inviter's own `title` and `message` from its `notificationConfig`, one per line. */
  message?: string;
}
