/**
 * A tab of the user that does not hold the lock: it asks the leader who leads
 * (hello), repeats the leader's events on its own subjects as if its own
 * Session had said them, and settles the calls it handed the leader with the
 * leader's replies.
 */
import { AsyncSubject, firstValueFrom } from 'rxjs';
import type { User } from '../api/calls.js';
import type { InvitationReceivedEvent, InviteeStateChangedEvent } from '../api/events.js';
import type { ConnectionState } from '../api/types.js';
import { acceptedFromNotification } from '../push/enable-push.js';
import type { Outlets } from '../session/announcer.js';
import type { LeaderElection } from './leader-election.js';
import type { PendingCalls } from './pending-calls.js';
import type { SharedOutlet, TabChannel, TabMessage } from './tab-channel.js';

/** What a following tab shares with the tab session it follows for. */
export interface FollowerContext {
  tabId: string;
  user: User;
  outlets: Outlets;
  channel: TabChannel;
  election: LeaderElection;
  pending: PendingCalls;
}

export class TabFollower {
  readonly #context: FollowerContext;
  /** Completes when this tab stops waiting to hear from a leader: a leader welcomed it, it leads, or it disconnected. */
  readonly #waitEnded = new AsyncSubject<void>();

  constructor(context: FollowerContext) {
    this.#context = context;
  }

  /** Asks who leads; resolves once a leader welcomed this tab, or it stopped following. */
  join(): Promise<void> {
    this.#context.channel.post({ type: 'hello', from: this.#context.tabId });
    return firstValueFrom(this.#waitEnded, { defaultValue: undefined });
  }

  /** What a following tab does with the leader's messages. */
  handle(message: TabMessage): void {
    const { tabId, outlets, pending } = this.#context;
    switch (message.type) {
      case 'welcome':
        if ((message.to ?? tabId) !== tabId) return;
        outlets.connectionState.leaderSays(message.state);
        for (const event of message.ringing) this.#echo('invitationReceived', event);
        pending.repost();
        this.#waitEnded.complete();
        return;
      case 'reply':
        if (message.to === tabId) pending.reply(message.requestId, message.result);
        return;
      case 'event':
        return this.#echo(message.outlet, message.value);
      case 'answered':
        if (message.by !== tabId) outlets.invitationAnsweredElsewhere.next(message.event);
        return;
      case 'leaving':
        outlets.connectionState.connecting();
        return;
      default:
        return;
    }
  }

  /** A leader's event, told here as if this tab's Session had said it; recorded so that it is not said again if this tab leads later. */
  #echo(outlet: SharedOutlet, value: unknown): void {
    const { outlets, user } = this.#context;
    if (outlet === 'connectionState') return outlets.connectionState.leaderSays(value as ConnectionState);
    const told = outlets.told;
    if (outlet === 'invitationReceived' && !told.ring(user.id, (value as InvitationReceivedEvent).invitationID)) return;
    if (outlet === 'inviteeStateChanged') {
      const { invitationID, invitee, state } = value as InviteeStateChangedEvent;
      told.state(user.id, invitationID, invitee, state);
    }
    if (outlet === 'invitationReceived') value = acceptedHere(value as InvitationReceivedEvent);
    (outlets[outlet] as { next(value: unknown): void }).next(value);
  }

  /** This tab no longer waits for a leader's welcome: it leads, or it disconnected. */
  stop(): void {
    this.#waitEnded.complete();
  }

  /** This tab disconnects: no longer waiting for the lock first, so that the leader's check no longer counts it. */
  async close(): Promise<void> {
    await this.#context.election.close();
    this.#context.channel.post({ type: 'goodbye', from: this.#context.tabId });
  }
}

/** The leader's event, flagged when the notification's Accept opened this tab (its own URL, not the leader's). */
function acceptedHere(event: InvitationReceivedEvent): InvitationReceivedEvent {
  const { acceptedFromNotification: _leaders, ...rest } = event;
  return acceptedFromNotification() === event.invitationID ? { ...rest, acceptedFromNotification: true } : rest;
}
