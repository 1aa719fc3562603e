/**
 * One user in one tab, sharing a `Session` with the user's other tabs of the
 * same browser profile. The tab holding the user's lock (leader-election.ts)
 * runs the `Session` (PeerServer registration, store, notifications) and
 * passes its events to the others over the tab channel; the others (followers)
 * send it their app's calls and re-emit its events on their own subjects. When
 * the leader goes, the next tab in line for the lock runs the `Session`,
 * restoring from the shared store: what the followers were told is in their
 * `Outlets.told`, so nothing rings twice.
 */
import { AsyncSubject, Subscription, filter, firstValueFrom, timer, type Observable } from 'rxjs';
import { backoffDelay } from '../core/backoff.js';
import { checkAnswer } from '../core/validate.js';
import type { Outlets } from '../session/announcer.js';
import type { AddInvitationResult, CallActionResult, CancelInvitationResult, JoinInvitationResult, PluginStats, RespondInvitationResult, SendInvitationResult } from '../api/calls.js';
import { InvitationError } from '../errors.js';
import { randomId } from '../core/random-id.js';
import type { Settings } from '../options.js';
import { Session } from '../session/lifecycle.js';
import type { User } from '../api/calls.js';
import { acceptedFromNotification, type PushServerLink } from '../push/enable-push.js';
import type { InvitationReceivedEvent, InviteeStateChangedEvent } from '../api/events.js';
import { idleStats, type SessionCalls, type UserSession } from '../session/user-session.js';
import { LeaderElection, type TabPlatform } from './leader-election.js';
import { PendingCalls, type PendingCall } from './pending-calls.js';
import { SHARED_OUTLETS, TabChannel, fromWire, toWire, type CallMethod, type TabMessage, type WireResult } from './tab-channel.js';

/** Waits between attempts of a new leader to register while the server still holds the id. */
const TAKEOVER_RETRY_MS = { initial: 250, max: 2000 };
/** Request ids of other tabs' calls remembered: far more than tabs ever have pending. */
const SERVED_REMEMBERED = 256;

export class TabSession implements UserSession {
  readonly user: User;
  readonly #tabId = randomId();
  readonly #settings: Settings;
  readonly #outlets: Outlets;
  readonly #channel: TabChannel;
  readonly #election: LeaderElection;
  readonly #pending: PendingCalls;
  readonly #lifetime = new Subscription();
  #role: 'follower' | 'leader' = 'follower';
  #started = false;
  #closed = false;
  /** The running Session, while this tab leads and it started. */
  #session: Session | undefined;
  /** This tab's Session once it started, or undefined when the tab disconnects first: the first of the two counts. */
  readonly #sessionStarted = new AsyncSubject<Session | undefined>();
  /** Completes when this tab stops waiting to hear from a leader: it leads, or it disconnected. */
  readonly #waitEnded = new AsyncSubject<void>();
  /** Calls of other tabs this leader ran or runs, by request id: a call posted twice runs once. */
  readonly #served = new Map<string, Promise<WireResult>>();
  /**
   * While leading: whether some tab may follow, so that events are posted at all. A post costs the
   * leader a structured clone per event even with nobody listening. True until the lock manager
   * says nobody waits for the lock (every follower does); a hello makes it true again at once.
   */
  #followed = true;
  /** Counts the checks of `#followed`: a hello during a check makes the check's answer stale. */
  #followerCheck = 0;

  readonly #calls: SessionCalls = {
    sendInvitation: (params) => this.#call<SendInvitationResult>('send', params),
    cancelInvitation: (params) => this.#call<CancelInvitationResult>('cancel', params),
    respond: (params, answer) => this.#call<RespondInvitationResult>(answer, params),
    addInvitation: (params) => this.#call<AddInvitationResult>('add', params),
    joinInvitation: (params) => this.#call<JoinInvitationResult>('join', params),
    quitInvitation: (params) => this.#call<CallActionResult>('quit', params),
    endInvitation: (params) => this.#call<CallActionResult>('end', params),
  };

  constructor(user: User, settings: Settings, outlets: Outlets, platform: TabPlatform) {
    this.user = user;
    this.#settings = settings;
    this.#outlets = outlets;
    const name = `peer-invitation:tabs:${user.id}`;
    this.#channel = new TabChannel(platform.createChannel(name));
    this.#election = new LeaderElection(platform.locks, name);
    this.#pending = new PendingCalls(this.#tabId, (message) => this.#channel.post(message));
  }

  /** Only the leader holds the connection to the server, so only it subscribes to push. */
  pushLink(): PushServerLink | 'other-tab' | undefined {
    if (!this.#started || this.#closed) return undefined;
    return this.#role === 'leader' ? this.#session?.pushLink() : 'other-tab';
  }

  get calls(): SessionCalls | undefined {
    return this.#started && !this.#closed ? this.#calls : undefined;
  }

  async start(): Promise<void> {
    this.#outlets.connectionState.next('connecting');
    const messages$ = this.#channel.messages$;
    this.#lifetime.add(messages$.subscribe((message) => this.#onMessage(message)));
    if (await this.#election.tryLead()) {
      await this.#lead({ firstAttemptFails: true });
    } else {
      const welcome$ = messages$.pipe(filter((message) => message.type === 'welcome' && (message.to ?? this.#tabId) === this.#tabId));
      // The channel completes when this tab disconnects first.
      const welcomed = firstValueFrom(welcome$, { defaultValue: undefined });
      void this.#election.waitToLead().then(() => this.#promote());
      this.#channel.post({ type: 'hello', from: this.#tabId });
      await Promise.race([welcomed, firstValueFrom(this.#waitEnded, { defaultValue: undefined })]);
    }
    if (this.#closed) throw new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
    this.#started = true;
  }

  /** The leader went: this tab was next in line. */
  #promote(): void {
    if (this.#closed) return;
    this.#role = 'leader';
    this.#waitEnded.complete();
    this.#pending.drain((call) => this.#run(call, this.#tabId));
    void this.#lead({ firstAttemptFails: false }).catch((error: unknown) => this.#outlets.errors.next(error as InvitationError));
  }

  /**
   * Runs the Session here. The first tab to connect fails `connectUser` as a tab alone would;
   * a tab taking over keeps trying (the server frees a crashed tab's id only when it notices).
   */
  async #lead({ firstAttemptFails }: { firstAttemptFails: boolean }): Promise<void> {
    this.#role = 'leader';
    this.#lifetime.add(this.#broadcastEvents());
    const leave = () => void this.close();
    addEventListener('pagehide', leave);
    this.#lifetime.add(() => removeEventListener('pagehide', leave));
    this.#channel.post({ type: 'welcome', from: this.#tabId, state: this.#outlets.connectionState.value, ringing: [] });
    this.#checkFollowers();
    let attempt = 0;
    let reported = false;
    while (!this.#closed) {
      const session = new Session(this.user, this.#settings, this.#outlets);
      try {
        await session.start();
        if (this.#closed) {
          await session.close();
          return;
        }
        this.#session = session;
        settle(this.#sessionStarted, session);
        return;
      } catch (error) {
        await session.close();
        if (this.#closed) return;
        if (firstAttemptFails) {
          await this.close();
          throw error;
        }
        if (!reported && error instanceof InvitationError) this.#outlets.errors.next(error);
        reported = true;
        this.#outlets.connectionState.next('connecting');
        await firstValueFrom(timer(backoffDelay(attempt++, TAKEOVER_RETRY_MS.initial, TAKEOVER_RETRY_MS.max), this.#settings.scheduler));
      }
    }
  }

  /** Passes the Session's events to the other tabs. */
  #broadcastEvents(): Subscription {
    const subscription = new Subscription();
    for (const outlet of SHARED_OUTLETS) {
      const events$ = this.#outlets[outlet] as Observable<unknown>;
      subscription.add(events$.subscribe((value) => this.#followed && this.#channel.post({ type: 'event', from: this.#tabId, outlet, value })));
    }
    return subscription;
  }

  /** Asks the lock manager whether a tab still follows; a hello meanwhile wins. */
  #checkFollowers(): void {
    const check = ++this.#followerCheck;
    void this.#election.othersWaiting().then(
      (waiting) => {
        if (check === this.#followerCheck) this.#followed = waiting;
      },
      () => {},
    );
  }

  #onMessage(message: TabMessage): void {
    if (this.#closed) return;
    if (this.#role === 'leader') return this.#serve(message);
    switch (message.type) {
      case 'welcome':
        if ((message.to ?? this.#tabId) !== this.#tabId) return;
        this.#outlets.connectionState.next(message.state);
        for (const event of message.ringing) this.#echo('invitationReceived', event);
        this.#pending.repost();
        return;
      case 'reply':
        if (message.to === this.#tabId) this.#pending.reply(message.requestId, message.result);
        return;
      case 'event':
        return this.#echo(message.outlet, message.value);
      case 'answered':
        if (message.by !== this.#tabId) this.#outlets.invitationAnsweredElsewhere.next(message.event);
        return;
      case 'leaving':
        this.#outlets.connectionState.next('connecting');
        return;
      default:
        return;
    }
  }

  /** A leader's event, told here as if this tab's Session had said it; recorded so that it is not said again if this tab leads later. */
  #echo(outlet: (typeof SHARED_OUTLETS)[number], value: unknown): void {
    const told = this.#outlets.told;
    if (outlet === 'invitationReceived' && !told.ring(this.user.id, (value as InvitationReceivedEvent).invitationID)) return;
    if (outlet === 'inviteeStateChanged') {
      const { invitationID, invitee, state } = value as InviteeStateChangedEvent;
      told.state(this.user.id, invitationID, invitee, state);
    }
    if (outlet === 'invitationReceived') value = acceptedHere(value as InvitationReceivedEvent);
    (this.#outlets[outlet] as { next(value: unknown): void }).next(value);
  }

  /** What the leader does with other tabs' messages. */
  #serve(message: TabMessage): void {
    if (message.type === 'goodbye') return this.#checkFollowers();
    if (message.type === 'hello') {
      this.#followerCheck++;
      this.#followed = true;
      const ringing = this.#session?.ringing() ?? [];
      this.#channel.post({ type: 'welcome', from: this.#tabId, to: message.from, state: this.#outlets.connectionState.value, ringing });
    } else if (message.type === 'call') {
      let result = this.#served.get(message.requestId);
      if (!result) {
        result = this.#run(message, message.from);
        this.#served.set(message.requestId, result);
        if (this.#served.size > SERVED_REMEMBERED) this.#served.delete(this.#served.keys().next().value!);
      }
      const { requestId, from } = message;
      void result.then((reply) => {
        if (!this.#closed) this.#channel.post({ type: 'reply', requestId, to: from, result: reply });
      });
    }
  }

  /** The app's call in this tab: run here when leading, by the leader otherwise. */
  async #call<T>(method: CallMethod, params: unknown): Promise<T> {
    let suffix: string | undefined;
    if (method === 'send') {
      try {
        suffix = this.#settings.createInvitationID();
      } catch (error) {
        return { invitationID: '', errorInvitees: {}, error: new InvitationError('APP_CALLBACK_FAILED', 'createInvitationID threw', { cause: error }) } as T;
      }
    }
    const call: PendingCall = { method, params, ...(suffix === undefined ? {} : { suffix }) };
    const result = this.#role === 'leader' ? await this.#run(call, this.#tabId) : await this.#pending.call(call);
    return fromWire<T>(result);
  }

  /** Runs a call on this leader's Session once it started; an answer is told to every other tab. */
  async #run({ method, params, suffix, retried = false }: PendingCall, by: string): Promise<WireResult> {
    const session = await firstValueFrom(this.#sessionStarted);
    const calls = session?.calls;
    if (!calls || this.#closed) return { invitationID: '', error: { code: 'NOT_CONNECTED', message: 'This tab disconnected' } };
    if (method === 'send') return toWire(await calls.sendInvitation(params, suffix === undefined ? undefined : { suffix, retried }));
    if (method === 'cancel') return toWire(await calls.cancelInvitation(params));
    if (method === 'add') return toWire(await calls.addInvitation(params));
    if (method === 'join') return toWire(await calls.joinInvitation(params));
    if (method === 'quit') return toWire(await calls.quitInvitation(params));
    if (method === 'end') return toWire(await calls.endInvitation(params));
    const result = await calls.respond(params, method);
    if (!result.error) {
      // Answered, so the parameters were valid: the data is the one the answer carried.
      const checked = checkAnswer(params);
      const event = { invitationID: result.invitationID, answer: method, data: checked instanceof InvitationError ? '' : checked.data };
      if (this.#followed || by !== this.#tabId) this.#channel.post({ type: 'answered', from: this.#tabId, by, event });
      if (by !== this.#tabId) this.#outlets.invitationAnsweredElsewhere.next(event);
    }
    return toWire(result);
  }

  stats(): PluginStats {
    return this.#session?.stats() ?? idleStats();
  }

  /** Disconnects this tab only: a leader lets the next tab lead once its store is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.unsubscribe();
    this.#pending.settleAll({ invitationID: '', error: { code: 'NOT_CONNECTED', message: 'This tab disconnected' } });
    if (this.#role === 'leader') this.#channel.post({ type: 'leaving', from: this.#tabId });
    settle(this.#sessionStarted, undefined);
    this.#waitEnded.complete();
    await this.#session?.close();
    this.#outlets.connectionState.next('disconnected');
    if (this.#role === 'follower') {
      // No longer waiting for the lock first, so that the leader's check no longer counts this tab.
      await this.#election.close();
      this.#channel.post({ type: 'goodbye', from: this.#tabId });
    }
    this.#channel.close();
    await this.#election.close();
  }
}

/** Gives an AsyncSubject its one value; later calls change nothing (a completed subject ignores them). */
function settle<T>(subject: AsyncSubject<T>, value: T): void {
  subject.next(value);
  subject.complete();
}

/** The leader's event, flagged when the notification's Accept opened this tab (its own URL, not the leader's). */
function acceptedHere(event: InvitationReceivedEvent): InvitationReceivedEvent {
  const { acceptedFromNotification: _leaders, ...rest } = event;
  return acceptedFromNotification() === event.invitationID ? { ...rest, acceptedFromNotification: true } : rest;
}
