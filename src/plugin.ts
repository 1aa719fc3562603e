/**
 * The facade: `createSignalingPlugin` returns a plugin whose observables live
 * as long as it does, and whose methods hand their work to the current
 * `Session` (session.ts), one per `connectUser`.
 */
import { BehaviorSubject, Subject, asyncScheduler, distinctUntilChanged, type Observable } from 'rxjs';
import { InvitationError } from './errors.js';
import { openIndexedDbStore } from './indexeddb-store.js';
import { showSystemNotification } from './notifications.js';
import { createPeerJsTransport } from './peerjs-transport.js';
import { Session, type Outlets, type PluginStats, type Settings } from './session.js';
import { openMemoryStore } from './store.js';
import type {
  CancelInvitationParams,
  CancelInvitationResult,
  ConnectUserParams,
  ConnectionState,
  InvitationAnsweredEvent,
  InvitationCanceledEvent,
  InvitationReceivedEvent,
  InvitationResponseTimeoutEvent,
  InvitationTimeoutEvent,
  InviteeStateChangedEvent,
  ResolvedDeliveryOptions,
  RespondInvitationParams,
  RespondInvitationResult,
  SendInvitationParams,
  SendInvitationResult,
  SignalingPluginOptions,
  User,
} from './types.js';
import { checkText, checkUserId } from './validate.js';

export type { PluginStats } from './session.js';

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

export interface SignalingPlugin {
  readonly invitationReceived$: Observable<InvitationReceivedEvent>;
  readonly invitationCanceled$: Observable<InvitationCanceledEvent>;
  readonly invitationAccepted$: Observable<InvitationAnsweredEvent>;
  readonly invitationRefused$: Observable<InvitationAnsweredEvent>;
  readonly invitationTimeout$: Observable<InvitationTimeoutEvent>;
  readonly invitationResponseTimeout$: Observable<InvitationResponseTimeoutEvent>;
  readonly inviteeStateChanged$: Observable<InviteeStateChangedEvent>;
  /** Replays the current state to each new subscriber. */
  readonly connectionState$: Observable<ConnectionState>;
  readonly errors$: Observable<InvitationError>;
  /** The connected user, or undefined. */
  readonly user: User | undefined;

  connectUser(params: ConnectUserParams): Promise<void>;
  disconnectUser(): Promise<void>;
  sendInvitation(params: SendInvitationParams): Promise<SendInvitationResult>;
  cancelInvitation(params: CancelInvitationParams): Promise<CancelInvitationResult>;
  acceptInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult>;
  refuseInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult>;
  stats(): PluginStats;
  /** Disconnects and completes every observable; safe to call twice. */
  dispose(): Promise<void>;
}

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
    connectionState: new BehaviorSubject<ConnectionState>('disconnected'),
    errors: new Subject(),
  };
  readonly invitationReceived$ = this.#outlets.invitationReceived.asObservable();
  readonly invitationCanceled$ = this.#outlets.invitationCanceled.asObservable();
  readonly invitationAccepted$ = this.#outlets.invitationAccepted.asObservable();
  readonly invitationRefused$ = this.#outlets.invitationRefused.asObservable();
  readonly invitationTimeout$ = this.#outlets.invitationTimeout.asObservable();
  readonly invitationResponseTimeout$ = this.#outlets.invitationResponseTimeout.asObservable();
  readonly inviteeStateChanged$ = this.#outlets.inviteeStateChanged.asObservable();
  readonly connectionState$ = this.#outlets.connectionState.pipe(distinctUntilChanged());
  readonly errors$ = this.#outlets.errors.asObservable();

  readonly #settings: Settings;
  #session: Session | undefined;
  #starting: Promise<void> | undefined;
  #disposed = false;

  constructor(options: SignalingPluginOptions) {
    const storage = options.storage ?? 'indexeddb';
    this.#settings = {
      options: withToken(options),
      delivery: { ...DEFAULT_DELIVERY, ...options.delivery },
      scheduler: options.scheduler ?? asyncScheduler,
      openStore: storage === 'memory' ? openMemoryStore : storage === 'indexeddb' ? openIndexedDbStore : storage,
      createInvitationID: options.createInvitationID ?? (() => crypto.randomUUID()),
      notify: options.notify ?? showSystemNotification,
    };
  }

  get user(): User | undefined {
    return this.#session?.user;
  }

  async connectUser(params: ConnectUserParams): Promise<void> {
    if (this.#disposed) throw disposedError();
    const { id, name } = params ?? ({} as ConnectUserParams);
    const invalid = checkUserId(id) ?? checkText('name', name);
    if (invalid) throw invalid;
    if (this.#session) {
      if (this.#session.user.id === id && this.#starting) return this.#starting;
      throw new InvitationError('ALREADY_CONNECTED', `"${this.#session.user.id}" is connected; call disconnectUser() first`);
    }
    const session = new Session({ id, name }, this.#settings, this.#outlets);
    this.#session = session;
    this.#starting = session.start().catch((error: unknown) => {
      if (this.#session === session) this.#session = undefined;
      void session.close();
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
    const failure = this.#unavailable();
    if (failure) return { invitationID: '', errorInvitees: {}, error: failure };
    return this.#session!.sendInvitation(params);
  }

  async cancelInvitation(params: CancelInvitationParams): Promise<CancelInvitationResult> {
    const failure = this.#unavailable();
    if (failure) return { invitationID: params?.invitationID ?? '', errorInvitees: [...(params?.invitees ?? [])], error: failure };
    return this.#session!.cancelInvitation(params);
  }

  async acceptInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult> {
    return this.#respond(params, 'accept');
  }

  async refuseInvitation(params: RespondInvitationParams): Promise<RespondInvitationResult> {
    return this.#respond(params, 'refuse');
  }

  async #respond(params: RespondInvitationParams, answer: 'accept' | 'refuse'): Promise<RespondInvitationResult> {
    const failure = this.#unavailable();
    if (failure) return { invitationID: params?.invitationID ?? '', error: failure };
    return this.#session!.respond(params, answer);
  }

  /** Why a method cannot run now, if it cannot. */
  #unavailable(): InvitationError | undefined {
    if (this.#disposed) return disposedError();
    if (!this.#session?.started) return new InvitationError('NOT_CONNECTED', 'Call connectUser() and wait for it first');
    return undefined;
  }

  stats(): PluginStats {
    return this.#session?.stats() ?? { connectAttempts: 0, openConnections: 0, invitations: 0, pendingDeliveries: 0 };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.disconnectUser();
    for (const subject of Object.values(this.#outlets) as Subject<unknown>[]) subject.complete();
  }
}

/** Hands the `token` option to the transport, which asks it for each registration. */
function withToken(options: SignalingPluginOptions): SignalingPluginOptions {
  const { token } = options;
  if (token === undefined) return options;
  const createTransport = options.transport ?? createPeerJsTransport;
  return { ...options, transport: (context) => createTransport({ ...context, token }) };
}

function disposedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The plugin was disposed');
}
