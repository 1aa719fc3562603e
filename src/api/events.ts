/** What the plugin's observables say: states and events. */
import type { CallUser, User } from './calls.js';
import type { InviteeState, RefusalReason } from './types.js';

export interface InvitationReceivedEvent {
  invitationID: string;
  inviter: User;
  type: number;
  data: string;
  /** Seconds left to answer when this event was emitted (the remaining time, not the original timeout). */
  timeout: number;
  /** When the invitation reached this plugin (ms since the epoch, local clock). */
  createTime: number;
  /** When it times out here (ms since the epoch, local clock). */
  deadline: number;
  /**
   * The user already chose Accept on this invitation's push notification: the service worker opened
   * this page with `peerInvitationAccept=<invitationID>` in its URL. The app may accept without asking again.
   */
  acceptedFromNotification?: true;
  /** Advanced mode: the call this invitation rings into; accepting it joins that call. */
  callID?: string;
}

/** Advanced mode: members of a call whose state or data changed, as this plugin now sees them. */
export interface InvitationUserStateChangedEvent {
  /** The call's id. */
  invitationID: string;
  users: CallUser[];
}

/** Advanced mode: the call was ended by `by` (or everyone left: `by` is the last to leave). */
export interface InvitationEndedEvent {
  invitationID: string;
  by: string;
  data: string;
}

export interface InvitationCanceledEvent {
  invitationID: string;
  inviter: User;
  data: string;
}

/** Another tab of the same user answered an invitation this tab was told of (see README, "Several tabs"). */
export interface InvitationAnsweredElsewhereEvent {
  invitationID: string;
  answer: 'accept' | 'refuse';
  data: string;
}

export interface InvitationAnsweredEvent {
  invitationID: string;
  invitee: string;
  data: string;
  /**
   * Only on `invitationRefused$`, when the invitee's plugin refused by itself: `busy` (the invitee
   * is busy: `refuseWhenBusy`; a v2 invitee also says it when over a limit), `overloaded` (over one
   * of its `limits`) or `blocked` (its app's `shouldRing` said no). Absent: a person refused.
   */
  reason?: RefusalReason;
}

export interface InvitationTimeoutEvent {
  invitationID: string;
  inviter: User;
}

export interface InvitationResponseTimeoutEvent {
  invitationID: string;
  invitees: string[];
}

export interface InviteeStateChangedEvent {
  invitationID: string;
  invitee: string;
  state: InviteeState;
}
