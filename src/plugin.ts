/**
 * The facade: `createSignalingPlugin` resolves the options once, and returns a
 * plugin whose observables live as long as it does and whose methods hand their
 * work to the current `Session` (session.ts), one per `connectUser`. Every
 * method resolves for any argument; none throws.
 */
import { BehaviorSubject, Subject, distinctUntilChanged } from 'rxjs';
import { completeOutlets, type Outlets } from './session/announcer.js';
import { ConnectionStatus } from './session/connection-status.js';
import { ErrorReports } from './session/error-reports.js';
import { Told } from './session/told.js';
import type { AddInvitationParams, AddInvitationResult, CallActionResult, CancelInvitationResult, EndInvitationParams, JoinInvitationParams, JoinInvitationResult, PluginStats, QuitInvitationParams, RespondInvitationResult, SendInvitationResult } from './api/calls.js';
import type { ListInvitationsParams, ListInvitationsResult, MarkSeenResult } from './api/history.js';
import type { SignalingPluginOptions } from './api/options.js';
import type { SignalingPlugin } from './api/plugin.js';
import { BusyState } from './busy/busy.js';
import { recordHistory, type HistoryRecorder } from './history/recorder.js';
import { InvitationError } from './errors.js';
import { resolveSettings, type Settings } from './options.js';
import { isRecord } from './core/protocol.js';
import { Session } from './session/lifecycle.js';
import { tabPlatform, type TabPlatform } from './tabs/leader-election.js';
import { TabSession } from './tabs/tab-session.js';
import { idleStats, type UserSession } from './session/user-session.js';
import type { CancelInvitationParams, ConnectUserParams, RespondInvitationParams, SendInvitationParams, User } from './api/calls.js';
import { disablePush, enablePush, type EnablePushOptions, type EnablePushResult, type PushBrowser, type PushErrorCode, type PushServerLink } from './push/enable-push.js';
import { checkText, checkUserId, echoedInvitationID, echoedInvitees } from './core/validate.js';

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
    invitationUserStateChanged: new Subject(),
    invitationEnded: new Subject(),
    inCall: new BehaviorSubject(false),
    connectionState: new ConnectionStatus(),
    errors: new ErrorReports(),
    told: new Told(),
  };
  readonly invitationReceived$ = this.#outlets.invitationReceived.asObservable();
  readonly invitationCanceled$ = this.#outlets.invitationCanceled.asObservable();
  readonly invitationAccepted$ = this.#outlets.invitationAccepted.asObservable();
  readonly invitationRefused$ = this.#outlets.invitationRefused.asObservable();
  readonly invitationTimeout$ = this.#outlets.invitationTimeout.asObservable();
  readonly invitationResponseTimeout$ = this.#outlets.invitationResponseTimeout.asObservable();
  readonly inviteeStateChanged$ = this.#outlets.inviteeStateChanged.asObservable();
  readonly invitationAnsweredElsewhere$ = this.#outlets.invitationAnsweredElsewhere.asObservable();
  readonly invitationUserStateChanged$ = this.#outlets.invitationUserStateChanged.asObservable();
  readonly invitationEnded$ = this.#outlets.invitationEnded.asObservable();
  readonly connectionState$ = this.#outlets.connectionState.state$.pipe(distinctUntilChanged());
  readonly errors$ = this.#outlets.errors.errors$;

  readonly #settings: Settings;
  #session: UserSession | undefined;
  #history: HistoryRecorder | undefined;
  /** What the history needs of the options (storage, databaseName, historyDays, maxHistoryRecords). */
  readonly #historyOptions: SignalingPluginOptions;
  readonly #busy: BusyState;
  #starting: Promise<void> | undefined;
  #disposed = false;
  /** The service worker registration the last enablePush subscribed with, for disablePush. */
  #pushRegistration: ServiceWorkerRegistration | undefined;

  constructor(options: SignalingPluginOptions) {
    this.#historyOptions = options;
    const resolved = resolveSettings(options);
    this.#settings = { ...resolved, shouldRing: options.refuseWhenBusy ? this.#refuseWhenBusy(resolved.shouldRing) : resolved.shouldRing };
    this.#busy = new BusyState(this.#sharesTabs()?.locks);
    this.#outlets.inCall.subscribe((inCall) => void this.#busy.setInCall(inCall));
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
    const history = (this.#history = recordHistory(this.#historyOptions, user, () => this.#settings.clock.now(), this, (error) => this.#outlets.errors.report(error)));
    void this.#busy.attach(user.id);
    this.#starting = session.start().catch(async (error: unknown) => {
      if (this.#session === session) {
        void this.#busy.attach(undefined);
        this.#session = undefined;
        this.#history = undefined;
        this.#starting = undefined;
      }
      await session.close();
      await history.close();
      throw error;
    });
    return this.#starting;
  }

  async disconnectUser(): Promise<void> {
    const session = this.#session;
    const history = this.#history;
    this.#session = undefined;
    this.#history = undefined;
    this.#starting = undefined;
    await this.#busy.attach(undefined);
    await session?.close();
    await history?.close();
  }

  async sendInvitation(params: SendInvitationParams): Promise<SendInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: '', errorInvitees: {}, error: calls };
    const result = await calls.sendInvitation(params);
    this.#history?.sent(params, result);
    return result;
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
    const result = await calls.respond(params, answer);
    this.#history?.answered(result, answer);
    return result;
  }

  async addInvitation(params: AddInvitationParams): Promise<AddInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), ringID: '', errorInvitees: {}, error: calls };
    const result = await calls.addInvitation(params);
    // The history records the ring as an outgoing invitation of its own, as sendInvitation's.
    const { ringID, type, timeout, errorInvitees } = result;
    if (ringID && type !== undefined && timeout !== undefined) {
      this.#history?.sent({ invitees: params.invitees, timeout, type, data: params.data ?? '' }, { invitationID: ringID, errorInvitees });
    }
    return result;
  }

  async joinInvitation(params: JoinInvitationParams): Promise<JoinInvitationResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), users: [], error: calls };
    return calls.joinInvitation(params);
  }

  async quitInvitation(params: QuitInvitationParams): Promise<CallActionResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), error: calls };
    return calls.quitInvitation(params);
  }

  async endInvitation(params: EndInvitationParams): Promise<CallActionResult> {
    const calls = this.#calls();
    if (calls instanceof InvitationError) return { invitationID: echoedInvitationID(params), error: calls };
    return calls.endInvitation(params);
  }

  async listInvitations(params?: ListInvitationsParams): Promise<ListInvitationsResult> {
    const history = this.#connectedHistory();
    return history instanceof InvitationError ? { invitations: [], error: history } : history.list(params);
  }

  async markSeen(invitationIDs: readonly string[]): Promise<MarkSeenResult> {
    const history = this.#connectedHistory();
    return history instanceof InvitationError ? { error: history } : history.markSeen(invitationIDs);
  }

  async setBusy(busy: boolean): Promise<void> {
    await this.#busy.set(busy === true);
  }

  async enablePush(options: EnablePushOptions): Promise<EnablePushResult> {
    const link = this.#pushLink();
    if (!('pushKey' in link)) return link;
    const serviceWorker = isRecord(options) ? (options as Partial<EnablePushOptions>).serviceWorker : undefined;
    if (typeof serviceWorker !== 'string' && (typeof serviceWorker !== 'object' || serviceWorker === null)) return pushError('REFUSED', 'serviceWorker must be a ServiceWorkerRegistration or the script URL');
    try {
      const result = await enablePush({ serviceWorker }, link, this.#pushBrowser(serviceWorker));
      return result;
    } catch (error) {
      return pushError('REFUSED', (error as Error)?.message ?? String(error));
    }
  }

  async disablePush(): Promise<{ enabled: false } | { error: { code: PushErrorCode; reason?: string } }> {
    if (this.#disposed) return pushError('NOT_CONNECTED', 'The plugin was disposed');
    const link = this.#pushLink();
    if ('error' in link && link.error.code === 'OTHER_TAB') return link;
    try {
      const registration = this.#pushRegistration ?? (await globalThis.navigator?.serviceWorker?.getRegistration());
      // Not connected: the browser forgets the subscription; the server deletes it at its first push (404/410).
      const server: PushServerLink = 'pushKey' in link ? link : { pushKey: () => undefined, request: () => Promise.reject(new Error('Not connected')) };
      if (registration) await disablePush(registration, server);
      return { enabled: false };
    } catch (error) {
      return pushError('REFUSED', (error as Error)?.message ?? String(error));
    }
  }

  #pushLink(): PushServerLink | { error: { code: PushErrorCode; reason: string } } {
    if (this.#disposed) return pushError('NOT_CONNECTED', 'The plugin was disposed');
    const link = this.#session?.calls ? this.#session.pushLink() : undefined;
    if (link === 'other-tab') return pushError('OTHER_TAB', 'Another tab of this user holds the connection: call enablePush()/disablePush() there');
    if (!this.#session?.calls) return pushError('NOT_CONNECTED', 'Call connectUser() and wait for it first');
    return link ?? { pushKey: () => undefined, request: () => Promise.reject(new Error('No push on this network')) };
  }

  /** The browser's objects, remembering the registration enablePush subscribes with. */
  #pushBrowser(serviceWorker: ServiceWorkerRegistration | string): PushBrowser {
    const container = globalThis.navigator?.serviceWorker;
    if (typeof serviceWorker !== 'string') this.#pushRegistration = serviceWorker;
    return {
      Notification: globalThis.Notification,
      serviceWorker: container && {
        register: async (url: string) => (this.#pushRegistration = await container.register(url)),
      },
    };
  }

  /** `refuseWhenBusy`: an invitation that comes while this user is busy in any tab is refused as busy, before the app's `shouldRing`. */
  #refuseWhenBusy(shouldRing: Settings['shouldRing']): Settings['shouldRing'] {
    return async (invitation) => ((await this.#busy.anyBusy()) ? 'busy' : (shouldRing?.(invitation) ?? true));
  }

  #connectedHistory(): HistoryRecorder | InvitationError {
    const calls = this.#calls();
    return calls instanceof InvitationError ? calls : this.#history!;
  }

  /**
   * Tabs of one user share one Session where they can share its store (IndexedDB) and
   * the platform can elect one of them (Web Locks) and let them talk (BroadcastChannel).
   */
  #sharesTabs(): TabPlatform | undefined {
    return this.#settings.tabs ? tabPlatform() : undefined;
  }

  /** The connected session's calls, or why there are none now. */
  #calls() {
    if (this.#disposed) return disposedError();
    return this.#session?.calls ?? new InvitationError('NOT_CONNECTED', 'Call connectUser() and wait for it first');
  }

  stats(): PluginStats {
    // Every field README lists, also before connectUser and over a transport that counts fewer.
    return { ...idleStats(), ...this.#session?.stats() };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.disconnectUser();
    completeOutlets(this.#outlets);
  }
}

function pushError<Code extends PushErrorCode>(code: Code, reason: string): { error: { code: Code; reason: string } } {
  return { error: { code, reason } };
}

function disposedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The plugin was disposed');
}
