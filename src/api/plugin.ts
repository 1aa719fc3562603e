/** The plugin `createSignalingPlugin` returns. */
import type { Observable } from 'rxjs';
import type { InvitationError } from '../errors.js';
import type { AddInvitationParams, AddInvitationResult, CallActionResult, EndInvitationParams, JoinInvitationParams, JoinInvitationResult, QuitInvitationParams } from './calls.js';
import type { CancelInvitationParams, CancelInvitationResult, ConnectUserParams, PluginStats, RespondInvitationParams, RespondInvitationResult, SendInvitationParams, SendInvitationResult, User } from './calls.js';
import type {
  InvitationAnsweredElsewhereEvent,
  InvitationAnsweredEvent,
  InvitationCanceledEvent,
  InvitationEndedEvent,
  InvitationUserStateChangedEvent,
  InvitationReceivedEvent,
  InvitationResponseTimeoutEvent,
  InvitationTimeoutEvent,
  InviteeStateChangedEvent,
} from './events.js';
import type { HistoryMethods } from './history.js';
import type { EnablePushOptions, EnablePushResult, PushErrorCode } from '../push/enable-push.js';
import type { ConnectionState } from './types.js';

export interface SignalingPlugin extends HistoryMethods {
  readonly invitationReceived$: Observable<InvitationReceivedEvent>;
  readonly invitationCanceled$: Observable<InvitationCanceledEvent>;
  readonly invitationAccepted$: Observable<InvitationAnsweredEvent>;
  readonly invitationRefused$: Observable<InvitationAnsweredEvent>;
  readonly invitationTimeout$: Observable<InvitationTimeoutEvent>;
  readonly invitationResponseTimeout$: Observable<InvitationResponseTimeoutEvent>;
  readonly inviteeStateChanged$: Observable<InviteeStateChangedEvent>;
  /** Another tab of this user answered an invitation that rang here: stop ringing. */
  readonly invitationAnsweredElsewhere$: Observable<InvitationAnsweredElsewhereEvent>;
  /** Advanced mode: members of a call whose state changed (README, "Advanced mode"). */
  readonly invitationUserStateChanged$: Observable<InvitationUserStateChangedEvent>;
  /** Advanced mode: a call this user is a member of was ended, or everyone left it. */
  readonly invitationEnded$: Observable<InvitationEndedEvent>;
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
  /** Advanced mode: a member in the call rings more users into it; each ring is a basic invitation of this user. */
  addInvitation(params: AddInvitationParams): Promise<AddInvitationResult>;
  /** Advanced mode: joins a call this user was rung into, also after its ring timed out, was refused or this user quit; not after the end. */
  joinInvitation(params: JoinInvitationParams): Promise<JoinInvitationResult>;
  /** Advanced mode: leaves the call; the last to leave ends it. */
  quitInvitation(params: QuitInvitationParams): Promise<CallActionResult>;
  /** Advanced mode: ends the call for every member. */
  endInvitation(params: EndInvitationParams): Promise<CallActionResult>;
  /**
   * Says this user is in a call the plugin does not track, or no longer is. With `refuseWhenBusy`,
   * every tab of the user refuses new invitations while any tab is busy; a tab that closes or
   * crashes is busy no more. Kept across `connectUser`; resolves once every tab can see it.
   */
  setBusy(busy: boolean): Promise<void>;
  /**
   * Rings this user's browser through Web Push when no tab of the app is open (README, "Ring with no
   * tab open"): asks notification permission if needed, subscribes with the companion server's VAPID
   * key and hands the subscription to the server. Only the tab holding the connection can
   * (`OTHER_TAB` elsewhere); `NOT_CONNECTED` before `connectUser` resolved.
   */
  enablePush(options: EnablePushOptions): Promise<EnablePushResult>;
  /**
   * Removes the subscription from the server (when connected, in the tab holding the connection) and
   * from the browser. `{ enabled: false }` also when there was none.
   */
  disablePush(): Promise<{ enabled: false } | { error: { code: PushErrorCode; reason?: string } }>;
  stats(): PluginStats;
  /** Disconnects and completes every observable; safe to call twice. */
  dispose(): Promise<void>;
}
