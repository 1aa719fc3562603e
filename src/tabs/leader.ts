/**
 * The tab that holds the user's lock: it runs the `Session` (PeerServer
 * registration, store, notifications), passes its events to the other tabs,
 * welcomes the tabs that say hello, and runs the calls they hand it.
 */
import { AsyncSubject, Subscription, firstValueFrom, timer, type Observable } from 'rxjs';
import { backoffDelay } from '../core/backoff.js';
import { checkAnswer } from '../core/validate.js';
import type { PluginStats, User } from '../api/calls.js';
import type { InvitationReceivedEvent } from '../api/events.js';
import { InvitationError } from '../errors.js';
import type { Settings } from '../options.js';
import type { PushServerLink } from '../push/enable-push.js';
import type { Outlets } from '../session/announcer.js';
import { Session } from '../session/lifecycle.js';
import { idleStats } from '../session/user-session.js';
import { Audience } from './audience.js';
import type { LeaderElection } from './leader-election.js';
import type { PendingCall } from './pending-calls.js';
import { SHARED_OUTLETS, toWire, type SharedOutlet, type TabChannel, type TabMessage, type WireResult } from './tab-channel.js';

/** Waits between attempts of a new leader to register while the server still holds the id. */
const TAKEOVER_RETRY_MS = { initial: 250, max: 2000 };
/** Request ids of other tabs' calls remembered: far more than tabs ever have pending. */
const SERVED_REMEMBERED = 256;

/** What a leading tab shares with the tab session it leads for. */
export interface LeaderContext {
  tabId: string;
  user: User;
  settings: Settings;
  outlets: Outlets;
  channel: TabChannel;
  election: LeaderElection;
  /** The tab's subscriptions, ended first when it disconnects. */
  lifetime: Subscription;
  /** Whether this tab disconnected. */
  closed: () => boolean;
  /** Disconnects this tab (the page goes, or its first Session failed). */
  close: () => Promise<void>;
}

export class TabLeader {
  readonly #context: LeaderContext;
  readonly #audience: Audience;
  /** The running Session, once it started. */
  #session: Session | undefined;
  /** This tab's Session once it started, or undefined when the tab disconnects first: the first of the two counts. */
  readonly #sessionStarted = new AsyncSubject<Session | undefined>();
  /** Calls of other tabs this leader ran or runs, by request id: a call posted twice runs once. */
  readonly #served = new Map<string, Promise<WireResult>>();

  constructor(context: LeaderContext) {
    this.#context = context;
    this.#audience = new Audience(context.election);
  }

  /**
   * Runs the Session here. The first tab to connect fails `connectUser` as a tab alone would;
   * a tab taking over keeps trying (the server frees a crashed tab's id only when it notices).
   */
  async lead({ firstAttemptFails }: { firstAttemptFails: boolean }): Promise<void> {
    const { tabId, channel, outlets, closed, lifetime } = this.#context;
    lifetime.add(this.#broadcastEvents());
    const leave = () => void this.#context.close();
    addEventListener('pagehide', leave);
    lifetime.add(() => removeEventListener('pagehide', leave));
    channel.post({ type: 'welcome', from: tabId, state: outlets.connectionState.current, ringing: [] });
    this.#audience.check();
    let attempt = 0;
    let reported = false;
    while (!closed()) {
      const session = new Session(this.#context.user, this.#context.settings, outlets);
      try {
        await session.start();
        if (closed()) {
          await session.close();
          return;
        }
        this.#session = session;
        settle(this.#sessionStarted, session);
        return;
      } catch (error) {
        await session.close();
        if (closed()) return;
        if (firstAttemptFails) {
          await this.#context.close();
          throw error;
        }
        if (!reported && error instanceof InvitationError) outlets.errors.report(error);
        reported = true;
        outlets.connectionState.connecting();
        await firstValueFrom(timer(backoffDelay(attempt++, TAKEOVER_RETRY_MS.initial, TAKEOVER_RETRY_MS.max), this.#context.settings.scheduler));
      }
    }
  }

  /** Passes the Session's events to the other tabs. */
  #broadcastEvents(): Subscription {
    const { tabId, channel, outlets } = this.#context;
    const subscription = new Subscription();
    for (const outlet of SHARED_OUTLETS) {
      subscription.add(events$(outlets, outlet).subscribe((value) => this.#audience.followed && channel.post({ type: 'event', from: tabId, outlet, value })));
    }
    return subscription;
  }

  /** What the leader does with other tabs' messages. */
  handle(message: TabMessage): void {
    const { tabId, channel, outlets } = this.#context;
    if (message.type === 'goodbye') return this.#audience.check();
    if (message.type === 'hello') {
      this.#audience.hello();
      const ringing = this.ringing();
      channel.post({ type: 'welcome', from: tabId, to: message.from, state: outlets.connectionState.current, ringing });
    } else if (message.type === 'call') {
      let result = this.#served.get(message.requestId);
      if (!result) {
        result = this.run(message, message.from);
        this.#served.set(message.requestId, result);
        if (this.#served.size > SERVED_REMEMBERED) this.#served.delete(this.#served.keys().next().value!);
      }
      const { requestId, from } = message;
      void result.then((reply) => {
        if (!this.#context.closed()) channel.post({ type: 'reply', requestId, to: from, result: reply });
      });
    }
  }

  /** Runs a call on this leader's Session once it started; an answer is told to every other tab. */
  async run({ method, params, suffix, retried = false }: PendingCall, by: string): Promise<WireResult> {
    const session = await firstValueFrom(this.#sessionStarted);
    const calls = session?.calls;
    if (!calls || this.#context.closed()) return { invitationID: '', error: { code: 'NOT_CONNECTED', message: 'This tab disconnected' } };
    if (method === 'send') return toWire(await calls.sendInvitation(params, suffix === undefined ? undefined : { suffix, retried }));
    if (method === 'cancel') return toWire(await calls.cancelInvitation(params));
    if (method === 'add') return toWire(await calls.addInvitation(params));
    if (method === 'join') return toWire(await calls.joinInvitation(params));
    if (method === 'quit') return toWire(await calls.quitInvitation(params));
    if (method === 'end') return toWire(await calls.endInvitation(params));
    const result = await calls.respond(params, method);
    if (!result.error) this.#answered(result.invitationID, method, params, by);
    return toWire(result);
  }

  /** A call (`by` this tab or another) answered an invitation: every other tab hears it. */
  #answered(invitationID: string, answer: 'accept' | 'refuse', params: unknown, by: string): void {
    const { tabId, channel, outlets } = this.#context;
    // Answered, so the parameters were valid: the data is the one the answer carried.
    const checked = checkAnswer(params);
    const event = { invitationID, answer, data: checked instanceof InvitationError ? '' : checked.data };
    if (this.#audience.followed || by !== tabId) channel.post({ type: 'answered', from: tabId, by, event });
    if (by !== tabId) outlets.invitationAnsweredElsewhere.next(event);
  }

  /** What rings here now, for a tab that says hello. */
  ringing(): InvitationReceivedEvent[] {
    return this.#session?.ringing() ?? [];
  }

  pushLink(): PushServerLink | undefined {
    return this.#session?.pushLink();
  }

  stats(): PluginStats {
    return this.#session?.stats() ?? idleStats();
  }

  /** This tab disconnects (its lifetime ended): the others hear it leave; resolves once the Session's store is closed. */
  async close(): Promise<void> {
    this.#context.channel.post({ type: 'leaving', from: this.#context.tabId });
    settle(this.#sessionStarted, undefined);
    await this.#session?.close();
  }
}

/** What the leader passes on of one outlet: the connection state replays the current one at once. */
function events$(outlets: Outlets, outlet: SharedOutlet): Observable<unknown> {
  return outlet === 'connectionState' ? outlets.connectionState.state$ : outlets[outlet];
}

/** Gives an AsyncSubject its one value; later calls change nothing (a completed subject ignores them). */
function settle<T>(subject: AsyncSubject<T>, value: T): void {
  subject.next(value);
  subject.complete();
}
