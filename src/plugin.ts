/**
 * The facade: `createSignalingPlugin` resolves the options once, and returns a
 * plugin whose observables live as long as it does and whose methods hand their
 * work to the current `Session` (session.ts), one per `connectUser`. Every
 * method resolves for any argument; none throws.
 */
import { BehaviorSubject, Subject, asyncScheduler, distinctUntilChanged } from 'rxjs';
import type { Outlets } from './session/announcer.js';
import type {
  CancelInvitationResult,
  PluginStats,
  RespondInvitationResult,
  SendInvitationResult,
  SignalingPlugin,
  SignalingPluginOptions,
} from './api/plugin-api.js';
import { createClock } from './core/clock.js';
import { InvitationError } from './errors.js';
import { openIndexedDbStore } from './storage/indexeddb-store.js';
import { resolveLimits } from './core/limits.js';
import { showSystemNotification } from './session/notifications.js';
import type { Settings } from './session/context.js';
import { peerJsTransport } from './transport/peerjs/peerjs-transport.js';
import { isRecord } from './core/protocol.js';
import { Session } from './session/session.js';
import { tabPlatform, type TabPlatform } from './tabs/leader-election.js';
import { TabSession } from './tabs/tab-session.js';
import type { UserSession } from './session/user-session.js';
import { openMemoryStore } from './storage/store.js';
import type {
  CancelInvitationParams,
  ConnectUserParams,
  ConnectionState,
  ResolvedDeliveryOptions,
  RespondInvitationParams,
  SendInvitationParams,
  TokenSource,
  User,
} from './api/types.js';
import type { TransportFactory } from './transport/transport.js';
import { checkText, checkUserId, echoedInvitationID, echoedInvitees } from './core/validate.js';

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


export function createSignalingPlugin(options: SignalingPluginOptions = {}): SignalingPlugin {
  return new Plugin(options);
}

class Plugin implements SignalingPlugin {
  readonly #outlets: Outlets = {
    invitationReceived: new Subject(),
    invitationCanceled: new Subject(),
    invitationAccepted: new Subject(),
    invitationRefused: new Subject(),
    invitationTimeout: new Subject(),
    invitationResponseTimeout: new Subject(),
    inviteeStateChanged: new Subject(),
    invitationAnsweredElsewhere: new Subject(),
    connectionState: new BehaviorSubject<ConnectionState>('disconnected'),
    errors: new Subject(),
    told: { rang: new Set(), states: new Map() },
  };
  readonly invitationReceived$ = this.#outlets.invitationReceived.asObservable();
  readonly invitationCanceled$ = this.#outlets.invitationCanceled.asObservable();
  readonly invitationAccepted$ = this.#outlets.invitationAccepted.asObservable();
  readonly invitationRefused$ = this.#outlets.invitationRefused.asObservable();
  readonly invitationTimeout$ = this.#outlets.invitationTimeout.asObservable();
  readonly invitationResponseTimeout$ = this.#outlets.invitationResponseTimeout.asObservable();
  readonly inviteeStateChanged$ = this.#outlets.inviteeStateChanged.asObservable();
  readonly invitationAnsweredElsewhere$ = this.#outlets.invitationAnsweredElsewhere.asObservable();
  readonly connectionState$ = this.#outlets.connectionState.pipe(distinctUntilChanged());
  readonly errors$ = this.#outlets.errors.asObservable();

  readonly #settings: Settings;
  #session: UserSession | undefined;
  #starting: Promise<void> | undefined;
  #disposed = false;

  constructor(options: SignalingPluginOptions) {
    const storage = options.storage ?? 'indexeddb';
    const scheduler = options.scheduler ?? asyncScheduler;
    // A scheduler given for tests is their monotonic clock; otherwise timers run on the page's.
    const monotonic = options.scheduler ? () => scheduler.now() : () => performance.now();
    const wall = options.wallClock ?? (options.scheduler ? () => scheduler.now() : () => Date.now());
    this.#settings = {
      options,
      delivery: { ...DEFAULT_DELIVERY, ...options.delivery },
      scheduler,
      clock: createClock(monotonic, wall),
      openStore: storage === 'memory' ? openMemoryStore : storage === 'indexeddb' ? openIndexedDbStore : storage,
      createTransport: withToken(options.transport ?? peerJsTransport({ relay: options.relay ?? true }), options.token),
      createInvitationID: options.createInvitationID ?? (() => crypto.randomUUID()),
      notify: options.notify ?? showSystemNotification,
      limits: resolveLimits(options.limits),
      shouldRing: options.shouldRing,
    };
  }

  get user(): User | undefined {
    return this.#session?.user;
  }

  async connectUser(params: ConnectUserParams): Promise<void> {
    if (this.#disposed) throw disposedError();
    const { id, name } = isRecord(params) ? params : ({} as Partial<ConnectUserParams>);
    const invalid = checkUserId(id) ?? checkText('name', name);
    if (invalid) throw invalid;
    if (this.#session) {
      if (this.#session.user.id === id && this.#starting) return this.#starting;
      throw new InvitationError('ALREADY_CONNECTED', `"${this.#session.user.id}" is connected; call disconnectUser() first`);
    }
    const user = { id: id!, name: name! };
    const tabs = this.#sharesTabs();
    const session: UserSession = tabs ? new TabSession(user, this.#settings, this.#outlets, tabs) : new Session(user, this.#settings, this.#outlets);
    this.#session = session;
    this.#starting = session.start().catch(async (error: unknown) => {
      if (this.#session === session) {
        this.#session = undefined;
        this.#starting = undefined;
      }
      await session.close();
      throw error;
    });
    return this.#starting;
  }

  async disconnectUser(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#starting = undefined;
    await session?.close();
  }

  async sendInvitation(params: SendInvitationParams): Promise<SendInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: '', errorInvitees: {}, error: calls };
    return calls.sendInvitation(params);
  }

  async cancelInvitation(params: CancelInvitationParams): Promise<CancelInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), errorInvitees: echoedInvitees(params), error: calls };
    return calls.cancelInvitation(params);
  }

  async acceptInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult> {
    return this.#respond(params, 'accept');
  }

  async refuseInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult> {
    return this.#respond(params, 'refuse');
  }

  async #respond(params: RespondInvitationParams, answer: 'accept' | 'refuse'): Promise<RespondInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), error: calls };
    return calls.respond(params, answer);
  }

  /**
   * Tabs of one user share one Session where they can share its store (IndexedDB) and
   * the platform can elect one of them (Web Locks) and let them talk (BroadcastChannel).
   */
  #sharesTabs(): TabPlatform | undefined {
    const { storage = 'indexeddb', tabs = true } = this.#settings.options;
    return storage === 'indexeddb' && tabs ? tabPlatform() : undefined;
  }

  /** The connected session's calls, or why there are none now. */
  #calls() {
    if (this.#disposed) return disposedError();
    return this.#session?.calls ?? new InvitationError('NOT_CONNECTED', 'Call connectUser() and wait for it first');
  }

  stats(): PluginStats {
    return this.#session?.stats() ?? { connectAttempts: 0, openConnections: 0, invitations: 0, pendingDeliveries: 0 };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.disconnectUser();
    for (const subject of Object.values(this.#outlets)) if (subject instanceof Subject) subject.complete();
  }
}

/** Hands the `token` option to the transport, which asks it for each registration. */
function withToken(createTransport: TransportFactory, token: TokenSource | undefined): TransportFactory {
  return token === undefined ? createTransport : (context) => createTransport({ ...context, token });
}

function disposedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The plugin was disposed');
}
