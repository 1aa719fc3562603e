/**
 * The public shapes of the call history: what `listInvitations` resolves with,
 * its parameters, and the options that bound what is kept.
 */
import type { InvitationError } from '../errors.js';
import type { User } from './calls.js';

/**
 * How an invitation ended, for this user.
 * - `ringing`: not over yet (an incoming one still rings, an outgoing one still waits for an answer).
 * - `missed` (incoming): it rang here and ended by cancel or timeout with no answer in any tab.
 * - `accepted`, `refused`: answered (incoming: by this user, in any of its tabs; outgoing: by the invitee).
 * - `answeredElsewhere` (incoming): another tab said it answered, and no tab recorded the answer itself
 *   (the answering tab closed first); `answer` says which.
 * - `canceled`, `timeout`, `busy` (outgoing, per invitee): this user canceled; no answer in time; the
 *   invitee's plugin refused it without ringing (`reason: 'busy'` on `invitationRefused$`).
 */
export type InvitationOutcome = 'ringing' | 'missed' | 'accepted' | 'refused' | 'answeredElsewhere' | 'canceled' | 'timeout' | 'busy';

/** What became of one invitee of an outgoing invitation. */
export type InviteeOutcome = Extract<InvitationOutcome, 'ringing' | 'accepted' | 'refused' | 'canceled' | 'timeout' | 'busy'>;

export interface InvitationRecord {
  invitationID: string;
  direction: 'incoming' | 'outgoing';
  /** Incoming: who rang (the id is verified, the name is the inviter's word). Outgoing: this user. */
  inviter: User;
  /** Outgoing: every invitee and its own outcome. Incoming: empty. */
  invitees: { id: string; outcome: InviteeOutcome }[];
  /** Call type, as sent. */
  type: number;
  /** The invitation's `data`, as sent. */
  data: string;
  /** When it was sent (outgoing) or reached this user (incoming), ms since the epoch, local clock. */
  createTime: number;
  /** When its ringing times out, ms since the epoch, local clock. */
  deadline: number;
  /** When it reached its outcome, when that is known; absent while `ringing`. */
  endTime?: number;
  /** Incoming: the whole invitation's. Outgoing: the best of its invitees' (accepted, then ringing, refused, busy, timeout, canceled). */
  outcome: InvitationOutcome;
  /** Only for `answeredElsewhere`: what the other tab answered. */
  answer?: 'accept' | 'refuse';
  /** False until `markSeen` names it; outgoing invitations start seen. */
  seen: boolean;
}

export interface ListInvitationsParams {
  direction?: 'incoming' | 'outgoing';
  outcome?: InvitationOutcome;
  /** Only invitations created before this time (ms since the epoch): the `createTime` of the last one of the previous page. */
  before?: number;
  /** At most this many, newest first. Default 50. */
  limit?: number;
}

export interface ListInvitationsResult {
  /** Newest first. */
  invitations: InvitationRecord[];
  error?: InvitationError;
}

export interface MarkSeenResult {
  error?: InvitationError;
}

/** Options of `createSignalingPlugin` for the history. */
export interface HistoryOptions {
  /** Days an invitation stays in the history after it was created. Default 30. */
  historyDays?: number;
  /** At most this many invitations are kept; the oldest go first. Default 1000. */
  maxHistoryRecords?: number;
}

/** The history methods of the plugin. */
export interface HistoryMethods {
  /** The connected user's past and current invitations, newest first, as every tab of the user sees them. */
  listInvitations(params?: ListInvitationsParams): Promise<ListInvitationsResult>;
  /** Marks invitations seen in every tab; unknown ids are ignored. */
  markSeen(invitationIDs: readonly string[]): Promise<MarkSeenResult>;
}
