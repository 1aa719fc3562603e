/**
 * What the app hears: the plugin's subjects, and system notifications. App
 * callbacks are contained here: a `notify` that throws is reported on
 * `errors$` and changes nothing else.
 */
import type { BehaviorSubject, Subject } from 'rxjs';
import type { ConnectionStatus } from './connection-status.js';
import type { ErrorReports } from './error-reports.js';
import { InvitationError } from '../errors.js';
import { notificationText } from './notifications.js';
import type { Told } from './told.js';
import { acceptedFromNotification } from '../push/enable-push.js';
import type { Notify } from '../options.js';
import type { Leg } from '../core/state-machine.js';
import type { InvitationEndedEvent, InvitationUserStateChangedEvent } from '../api/events.js';
import type { InvitationAnsweredElsewhereEvent, InvitationAnsweredEvent, InvitationCanceledEvent, InvitationReceivedEvent, InvitationResponseTimeoutEvent, InvitationTimeoutEvent, InviteeStateChangedEvent } from '../api/events.js';
import type { InviteeState, RefusalReason } from '../api/types.js';

/** The plugin's subjects, shared by every session. */
export interface Outlets {
  invitationReceived: Subject<InvitationReceivedEvent>;
  invitationCanceled: Subject<InvitationCanceledEvent>;
  invitationAccepted: Subject<InvitationAnsweredEvent>;
  invitationRefused: Subject<InvitationAnsweredEvent>;
  invitationTimeout: Subject<InvitationTimeoutEvent>;
  invitationResponseTimeout: Subject<InvitationResponseTimeoutEvent>;
  inviteeStateChanged: Subject<InviteeStateChangedEvent>;
  invitationAnsweredElsewhere: Subject<InvitationAnsweredElsewhereEvent>;
  readonly connectionState: ConnectionStatus;
  readonly errors: ErrorReports;
  invitationUserStateChanged: Subject<InvitationUserStateChangedEvent>;
  invitationEnded: Subject<InvitationEndedEvent>;
  /** Advanced mode: whether this tab's session has the user in a live call (busy, for `refuseWhenBusy`). */
  inCall: BehaviorSubject<boolean>;
  /** What this plugin already told the app: a reconnect in the same page does not say it again. */
  readonly told: Told;
}

/** Completes every outlet: the plugin is disposed. */
export function completeOutlets(outlets: Outlets): void {
  const subjects = [
    outlets.invitationReceived,
    outlets.invitationCanceled,
    outlets.invitationAccepted,
    outlets.invitationRefused,
    outlets.invitationTimeout,
    outlets.invitationResponseTimeout,
    outlets.inviteeStateChanged,
    outlets.invitationAnsweredElsewhere,
    outlets.invitationUserStateChanged,
    outlets.invitationEnded,
    outlets.inCall,
    outlets.connectionState,
    outlets.errors,
  ];
  for (const subject of subjects) subject.complete();
}

export class Announcer {
  readonly #closeNotification = new Map<string, () => void>();
  readonly #outlets: Outlets;
  readonly #notify: Notify;
  readonly #userId: string;

  constructor(outlets: Outlets, notify: Notify, userId: string) {
    this.#outlets = outlets;
    this.#notify = notify;
    this.#userId = userId;
  }

  /**
   * An invitation rings: once per plugin, however often the user reconnects. Its
   * notification is shown after the app heard of it, unless the app answered it
   * inside its own handler (`stillRinging` says).
   */
  ring(leg: Leg, now: number, stillRinging: () => boolean): void {
    if (!this.#outlets.told.ring(this.#userId, leg.invitationID)) return;
    const event = this.receivedEvent(leg, now);
    this.#outlets.invitationReceived.next(event);
    if (!leg.notification || this.#closeNotification.has(leg.invitationID) || !stillRinging()) return;
    // Whatever shows it, the request's title names the verified id; the inviter's own words are only the message.
    const { title, body } = notificationText({ inviter: event.inviter, ...leg.notification });
    const request = { invitationID: leg.invitationID, inviter: event.inviter, type: leg.type, data: leg.data, ...leg.notification, title, message: body };
    const close = this.#contain('notify', () => this.#notify(request));
    if (close) this.#closeNotification.set(leg.invitationID, close);
  }

  /** What `invitationReceived$` (and `shouldRing`) says of an invitation received. */
  receivedEvent(leg: Leg, now: number): InvitationReceivedEvent {
    return {
      invitationID: leg.invitationID,
      inviter: { id: leg.peer, name: leg.inviterName },
      type: leg.type,
      data: leg.data,
      timeout: Math.max(0, leg.deadline - now) / 1000,
      createTime: leg.createTime,
      deadline: leg.deadline,
      // The service worker opened this page from the notification's Accept (`peerInvitationAccept` in the URL).
      ...(acceptedFromNotification() === leg.invitationID ? { acceptedFromNotification: true as const } : {}),
      ...(leg.call ? { callID: leg.call.id } : {}),
    };
  }

  /** The invitation stopped ringing here: close its notification. */
  stopRinging(invitationID: string): void {
    const close = this.#closeNotification.get(invitationID);
    this.#closeNotification.delete(invitationID);
    if (close) this.#contain('notify', close);
  }

  canceled(leg: Leg, data: string): void {
    this.stopRinging(leg.invitationID);
    this.#outlets.invitationCanceled.next({ invitationID: leg.invitationID, inviter: { id: leg.peer, name: leg.inviterName }, data });
  }

  /** Our leg of a received invitation timed out (unanswered, or answered where the inviter never heard it). */
  timedOut(leg: Leg): void {
    this.stopRinging(leg.invitationID);
    this.#outlets.invitationTimeout.next({ invitationID: leg.invitationID, inviter: { id: leg.peer, name: leg.inviterName } });
  }

  /** Invitees of an invitation we sent that never answered. */
  responseTimedOut(invitationID: string, legs: Leg[]): void {
    for (const leg of legs) this.inviteeState(leg);
    if (legs.length > 0) this.#outlets.invitationResponseTimeout.next({ invitationID, invitees: legs.map((leg) => leg.peer) });
  }

  answered(leg: Leg, answer: 'accept' | 'refuse', data: string): void {
    const event = { invitationID: leg.invitationID, invitee: leg.peer, data };
    (answer === 'accept' ? this.#outlets.invitationAccepted : this.#outlets.invitationRefused).next(event);
  }

  /** An invitee's plugin turned our invite away without ringing. */
  refusedUnseen(leg: Leg, reason: RefusalReason): void {
    this.#outlets.invitationRefused.next({ invitationID: leg.invitationID, invitee: leg.peer, data: '', reason });
    this.inviteeState(leg);
  }

  inviteeState(leg: Leg): void {
    const state = leg.state as InviteeState;
    this.#outlets.told.state(this.#userId, leg.invitationID, leg.peer, state);
    this.#outlets.inviteeStateChanged.next({ invitationID: leg.invitationID, invitee: leg.peer, state });
  }

  /**
   * Invitees still `queued` that are online but that no connection reaches: `unreachable`
   * once for each (until its state changes), and one `PEER_UNREACHABLE` with a hint.
   */
  unreachable(legs: Leg[], peer: string, reason: string): void {
    const newly = legs.filter((leg) => leg.role === 'inviter' && leg.state === 'queued' && !this.#outlets.told.hasState(this.#userId, leg.invitationID, leg.peer, 'unreachable'));
    if (newly.length === 0) return;
    for (const leg of newly) this.inviteeState({ ...leg, state: 'unreachable' });
    const hint = 'no network path between the two browsers: configure a TURN server (peer.config.iceServers, or the companion server\'s TURN); delivery goes on until the deadline';
    this.error(new InvitationError('PEER_UNREACHABLE', `Peer "${peer}" is online but cannot be reached (${reason}); ${hint}`));
  }

  /** After a reload or reconnect: the state, unless this plugin already reported it. */
  inviteeStateIfNew(leg: Leg): void {
    if (!this.#outlets.told.hasState(this.#userId, leg.invitationID, leg.peer, leg.state)) this.inviteeState(leg);
  }

  /** The invitation is purged: nothing about it will be said again. */
  forget(legs: Leg[]): void {
    for (const leg of legs) this.#outlets.told.forget(this.#userId, leg.invitationID, leg.peer);
  }

  error(error: InvitationError): void {
    this.#outlets.errors.report(error);
  }

  /** Advanced mode: rows of a call changed. */
  callUsers(event: InvitationUserStateChangedEvent): void {
    this.#outlets.invitationUserStateChanged.next(event);
  }

  callEnded(event: InvitationEndedEvent): void {
    this.#outlets.invitationEnded.next(event);
  }

  inCall(inCall: boolean): void {
    if (this.#outlets.inCall.value !== inCall) this.#outlets.inCall.next(inCall);
  }

  /** Runs an app callback; a throw is reported, never passed on. */
  #contain<T>(name: string, callback: () => T): T | undefined {
    try {
      return callback();
    } catch (error) {
      this.error(new InvitationError('APP_CALLBACK_FAILED', `The app's ${name} callback threw; the plugin went on without it`, { cause: error }));
      return undefined;
    }
  }

  /** Closes every notification still shown. */
  close(): void {
    for (const invitationID of [...this.#closeNotification.keys()]) this.stopRinging(invitationID);
  }
}
