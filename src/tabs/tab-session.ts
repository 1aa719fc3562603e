/**
 * One user in one tab, sharing a `Session` with the user's other tabs of the
 * same browser profile. The tab holding the user's lock (leader-election.ts)
 * leads (leader.ts): it runs the `Session` and passes its events to the
 * others over the tab channel; the others follow (follower.ts): they send it
 * their app's calls and re-emit its events on their own subjects. When the
 * leader goes, the next tab in line for the lock leads, restoring from the
 * shared store: what the followers were told is in their `Outlets.told`, so
 * nothing rings twice.
 */
import { Subscription } from 'rxjs';
import type { Outlets } from '../session/announcer.js';
import type { AddInvitationResult, CallActionResult, CancelInvitationResult, JoinInvitationResult, PluginStats, RespondInvitationResult, SendInvitationResult } from '../api/calls.js';
import { InvitationError } from '../errors.js';
import { randomId } from '../core/random-id.js';
import type { Settings } from '../options.js';
import type { User } from '../api/calls.js';
import type { PushServerLink } from '../push/enable-push.js';
import { idleStats, type SessionCalls, type UserSession } from '../session/user-session.js';
import { TabFollower } from './follower.js';
import { TabLeader } from './leader.js';
import { LeaderElection, type TabPlatform } from './leader-election.js';
import { PendingCalls, type PendingCall } from './pending-calls.js';
import { TabChannel, fromWire, type CallMethod, type TabMessage } from './tab-channel.js';

export class TabSession implements UserSession {
  readonly user: User;
  readonly #tabId = randomId();
  readonly #settings: Settings;
  readonly #outlets: Outlets;
  readonly #channel: TabChannel;
  readonly #election: LeaderElection;
  readonly #pending: PendingCalls;
  readonly #follower: TabFollower;
  readonly #lifetime = new Subscription();
  /** Once this tab leads. */
  #leader: TabLeader | undefined;
  #started = false;
  #closed = false;

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
    this.#follower = new TabFollower({ tabId: this.#tabId, user, outlets, channel: this.#channel, election: this.#election, pending: this.#pending });
  }

  /** Only the leader holds the connection to the server, so only it subscribes to push. */
  pushLink(): PushServerLink | 'other-tab' | undefined {
    if (!this.#started || this.#closed) return undefined;
    return this.#leader ? this.#leader.pushLink() : 'other-tab';
  }

  get calls(): SessionCalls | undefined {
    return this.#started && !this.#closed ? this.#calls : undefined;
  }

  async start(): Promise<void> {
    this.#outlets.connectionState.connecting();
    this.#lifetime.add(this.#channel.messages$.subscribe((message) => this.#onMessage(message)));
    if (await this.#election.tryLead()) {
      await this.#lead({ firstAttemptFails: true });
    } else {
      void this.#election.waitToLead().then(() => this.#promote());
      await this.#follower.join();
    }
    if (this.#closed) throw new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
    this.#started = true;
  }

  /** The leader went: this tab was next in line. */
  #promote(): void {
    if (this.#closed) return;
    const leader = this.#becomeLeader();
    this.#follower.stop();
    this.#pending.drain((call) => leader.run(call, this.#tabId));
    void this.#lead({ firstAttemptFails: false }).catch((error: unknown) => this.#outlets.errors.report(error as InvitationError));
  }

  #lead(options: { firstAttemptFails: boolean }): Promise<void> {
    return this.#becomeLeader().lead(options);
  }

  #becomeLeader(): TabLeader {
    this.#leader ??= new TabLeader({
      tabId: this.#tabId,
      user: this.user,
      settings: this.#settings,
      outlets: this.#outlets,
      channel: this.#channel,
      election: this.#election,
      lifetime: this.#lifetime,
      closed: () => this.#closed,
      close: () => this.close(),
    });
    return this.#leader;
  }

  #onMessage(message: TabMessage): void {
    if (this.#closed) return;
    if (this.#leader) this.#leader.handle(message);
    else this.#follower.handle(message);
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
    const result = this.#leader ? await this.#leader.run(call, this.#tabId) : await this.#pending.call(call);
    return fromWire<T>(result);
  }

  stats(): PluginStats {
    return this.#leader?.stats() ?? idleStats();
  }

  /** Disconnects this tab only: a leader lets the next tab lead once its store is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.unsubscribe();
    this.#pending.settleAll({ invitationID: '', error: { code: 'NOT_CONNECTED', message: 'This tab disconnected' } });
    const leader = this.#leader;
    this.#follower.stop();
    await leader?.close();
    this.#outlets.connectionState.disconnected();
    if (!leader) await this.#follower.close();
    this.#channel.close();
    await this.#election.close();
  }
}
