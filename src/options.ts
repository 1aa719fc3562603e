/**
 * Every default of `createSignalingPlugin`, and the one rule that applies them:
 * a field left out or given as `undefined` takes its default. The facade
 * (plugin.ts) resolves the options here once; sessions read the result.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { InvitationReceivedEvent } from './api/events.js';
import type { NotificationRequest, SignalingPluginOptions } from './api/options.js';
import type { PeerServerOptions, ResolvedDeliveryOptions, ResolvedLimitOptions, TokenSource } from './api/types.js';
import { createClock, type Clock } from './core/clock.js';
import { withoutUndefined } from './core/objects.js';
import { randomId } from './core/random-id.js';
import { showSystemNotification } from './session/notifications.js';
import { openIndexedDbStore } from './storage/indexeddb-store.js';
import { openMemoryStore, type OpenStore } from './storage/store.js';
import { createPeerJsTransport } from './transport/peerjs/peerjs-transport.js';
import type { TransportFactory } from './transport/transport.js';

export const DEFAULT_DELIVERY: ResolvedDeliveryOptions = {
  ackTimeoutMs: 5000,
  retryInitialDelayMs: 500,
  retryMaxDelayMs: 3000,
  connectTimeoutMs: 65_000,
  heartbeatIntervalMs: 2000,
  idleTimeoutMs: 30_000,
  maxConnections: 64,
  retentionMs: 60_000,
  idTakenRetryMs: 3000,
  reconnectTimeoutMs: 5000,
  reconnectMaxDelayMs: 10_000,
};

/** The default bounds on what peers may cost a plugin (see `LimitOptions`). */
export const DEFAULT_LIMITS: ResolvedLimitOptions = {
  maxLiveInvitationsPerInviter: 5,
  maxStoredInvitations: 500,
  maxStoredBytes: 4 * 1024 * 1024,
  maxUnknownCancelsPerPeer: 20,
  maxMessagesPerSecond: 50,
  maxPendingInboundConnections: 16,
  violationsBeforeCooldown: 10,
  cooldownMs: 60_000,
};

export type Notify = (request: NotificationRequest) => (() => void) | void;

/** The plugin's options, resolved once by the facade. */
export interface Settings {
  peer: PeerServerOptions;
  /** The IndexedDB database of a user. */
  databaseName: (userId: string) => string;
  notifyWhenAppIsInTheBackgroundOrQuit: boolean;
  /** Whether tabs of one user may share one session (still subject to the platform: tabs/leader-election.ts). */
  tabs: boolean;
  delivery: ResolvedDeliveryOptions;
  limits: ResolvedLimitOptions;
  scheduler: SchedulerLike;
  clock: Clock;
  openStore: OpenStore;
  createTransport: TransportFactory;
  createInvitationID: () => string;
  notify: Notify;
  /** The app's `shouldRing`, with `refuseWhenBusy` before it (plugin.ts): `'busy'` refuses as busy. */
  shouldRing: ((invitation: InvitationReceivedEvent) => boolean | 'busy' | Promise<boolean | 'busy'>) | undefined;
}

/** The one rule: what is given and not `undefined`, over the defaults. */
export function withDefaults<T extends object>(defaults: Required<T>, given: T | undefined): Required<T> {
  return { ...defaults, ...withoutUndefined(given ?? ({} as T)) };
}

export function resolveSettings(given: SignalingPluginOptions): Settings {
  const options = withoutUndefined(given);
  const storage = options.storage ?? 'indexeddb';
  const scheduler = options.scheduler ?? asyncScheduler;
  // A scheduler given for tests is their monotonic clock; otherwise timers run on the page's.
  const monotonic = options.scheduler ? () => scheduler.now() : () => performance.now();
  const wall = options.wallClock ?? (options.scheduler ? () => scheduler.now() : () => Date.now());
  const { databaseName } = options;
  return {
    peer: options.peer ?? {},
    databaseName: (userId) => databaseName ?? `peer-invitation:${userId}`,
    notifyWhenAppIsInTheBackgroundOrQuit: options.notifyWhenAppIsInTheBackgroundOrQuit ?? false,
    tabs: storage === 'indexeddb' && (options.tabs ?? true),
    delivery: withDefaults(DEFAULT_DELIVERY, options.delivery),
    limits: withDefaults(DEFAULT_LIMITS, options.limits),
    scheduler,
    clock: createClock(monotonic, wall),
    openStore: storage === 'memory' ? openMemoryStore : storage === 'indexeddb' ? openIndexedDbStore : storage,
    createTransport: withToken(options.transport ?? createPeerJsTransport, options.token),
    createInvitationID: options.createInvitationID ?? randomId,
    notify: options.notify ?? showSystemNotification,
    shouldRing: options.shouldRing,
  };
}

/** Hands the `token` option to the transport, which asks it for each registration. */
function withToken(createTransport: TransportFactory, token: TokenSource | undefined): TransportFactory {
  return token === undefined ? createTransport : (context) => createTransport({ ...context, token });
}
