/** The options of `createSignalingPlugin`, and the types of their fields. */
import type { SchedulerLike } from 'rxjs';
import type { OpenStore } from '../storage/store.js';
import type { TransportFactory } from '../transport/transport.js';
import type { InvitationReceivedEvent } from './events.js';
import type { HistoryOptions } from './history.js';
import type { User } from './calls.js';
import type { DeliveryOptions, LimitOptions, PeerServerOptions, TokenSource } from './types.js';

/** Options for `createSignalingPlugin`. Every field is optional. */
export interface SignalingPluginOptions extends HistoryOptions {
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
  /** Makes invitation ids. Default: a random UUID from `crypto.getRandomValues` (also on an insecure origin). */
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
  /**
   * While this user is busy (`setBusy(true)` in any of its tabs), a new invitation is refused on the
   * wire without ringing or asking `shouldRing`: the inviter sees `invitationRefused$` with
   * `reason: 'busy'`. Default false.
   */
  refuseWhenBusy?: boolean;
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
