/** What the plugin's methods take and resolve with. */
import type { InvitationError } from '../errors.js';
import type { TransportStats } from '../transport/transport.js';
import type { CallUser } from '../core/roster.js';

export type { CallUser, CallUserState } from '../core/roster.js';

export interface User {
  id: string;
  name: string;
}

export interface ConnectUserParams {
  id: string;
  name: string;
}

/** The seed's notification settings for one invitation. */
export interface NotificationConfig {
  notifyWhenAppIsInTheBackgroundOrQuit: boolean;
  resourceID?: string;
  title?: string;
  message?: string;
}

export interface SendInvitationParams {
  inviterName: string;
  invitees: readonly string[];
  /** Seconds, finite, > 0, at most 600; fractions allowed. */
  timeout: number;
  /** Call type, an integer (for example 0 voice, 1 video). */
  type: number;
  /** Extended data for the invitees, at most 8 KiB of UTF-8. */
  data: string;
  notificationConfig?: NotificationConfig;
  /**
   * Makes the invitation a call (README, "Advanced mode"): the inviter is in it from the start,
   * and it lives until it is ended or everyone left. Its invitation id is the call's id.
   */
  advancedMode?: boolean;
}

/**
 * Why an invitee was left out of an invitation. Advanced mode adds `in-call` (already
 * `accepted` in the call) and `call-full` (the call has its 32 members).
 */
export type InviteeErrorReason = 'invalid-id' | 'self' | 'in-call' | 'call-full';

/** Advanced mode: ring more users into a call. */
export interface AddInvitationParams {
  /** The call's id. */
  invitationID: string;
  invitees: readonly string[];
  /** Seconds each invitee rings; default the call's first timeout. */
  timeout?: number;
  /** Extended data for the invitees, as in `sendInvitation`. */
  data?: string;
}

export interface AddInvitationResult extends SendInvitationResult {
  /** The ring's own (basic) invitation id, for `cancelInvitation`; `''` when nothing was sent. */
  ringID: string;
  /** What the ring went out with, when it did: the call's type, and its timeout in seconds (the call's first ring's unless given). */
  type?: number;
  timeout?: number;
}

/** Advanced mode: join, quit or end a call. `data`: at most 2 KiB of UTF-8, shown in the member's row (or the end). */
export interface CallActionParams {
  /** The call's id (`joinInvitation` also takes the id of a ring into it). */
  invitationID: string;
  data?: string;
}

export type JoinInvitationParams = CallActionParams;
export type QuitInvitationParams = CallActionParams;
export type EndInvitationParams = CallActionParams;

export interface CallActionResult {
  /** The call's id. */
  invitationID: string;
  error?: InvitationError;
}

export interface JoinInvitationResult extends CallActionResult {
  /** The members and their states as this plugin knows them once joined; `[]` on error. */
  users: CallUser[];
}

export interface CancelInvitationParams {
  invitationID: string;
  /** Default: every invitee that has not answered yet. */
  invitees?: readonly string[];
  data?: string;
}

export interface RespondInvitationParams {
  invitationID: string;
  data?: string;
}

export interface SendInvitationResult {
  /** `''` when nothing was sent. */
  invitationID: string;
  errorInvitees: Record<string, InviteeErrorReason>;
  error?: InvitationError;
}

export interface CancelInvitationResult {
  invitationID: string;
  /** Invitees that could not be canceled: already answered, timed out, canceled, or never invited. */
  errorInvitees: string[];
  error?: InvitationError;
}

export interface RespondInvitationResult {
  invitationID: string;
  error?: InvitationError;
}

export interface PluginStats extends TransportStats {
  /** Invitations held (sent or received, until their deadline plus `retentionMs`). */
  invitations: number;
  /** Messages owed to peers and not yet acknowledged. */
  pendingDeliveries: number;
}
