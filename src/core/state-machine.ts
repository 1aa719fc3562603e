/**
 * The invitation state machine, pure: `transition(leg, event, now)` returns the
 * next leg or the code of the refusal. A "leg" is one invitation as seen between
 * this user and one other peer: the inviter holds one leg per invitee, each
 * invitee holds one leg with the inviter. Legs are what the store persists.
 */
import type { InvitationErrorCode } from '../errors.js';
import type { AnswerRejection, NotificationPayload, OutgoingKind, RingCall } from './protocol.js';
import type { InviteeState } from '../api/types.js';

export type Role = 'inviter' | 'invitee';

/** Inviter legs use the `InviteeState`s; an invitee leg starts `ringing`. */
export type LegState = InviteeState | 'ringing';

export interface Leg {
  invitationID: string;
  /** The other side: the invitee on an inviter leg, the inviter on an invitee leg. */
  peer: string;
  role: Role;
  state: LegState;
  inviterName: string;
  type: number;
  data: string;
  notification?: NotificationPayload;
  /** Advanced mode: the call this invitation rings its invitee into (README, "Advanced mode"). */
  call?: RingCall;
  /** Local clock, ms since the epoch. */
  createTime: number;
  /** Local clock, ms since the epoch. Nothing is sent for this leg after it. */
  deadline: number;
  /** The message this leg still owes its peer, until the peer acknowledges it. */
  outbox: OutgoingKind | null;
  /** `data` of the owed cancel, accept or refuse. */
  outboxData: string;
  /** An invite went onto a channel at least once, so the invitee may know it. */
  wired: boolean;
  /**
   * The app was told how this leg ended at its deadline (`invitationResponseTimeout$`,
   * `invitationTimeout$`), by this page or an earlier one: later pages say the state only.
   */
  endTold?: true;
}

export type LegEvent =
  /** Inviter: the invite was written to an open channel. */
  | { type: 'wired' }
  /** Either side: the peer acknowledged the message of this kind. */
  | { type: 'acked'; of: OutgoingKind }
  /** Inviter: the invitee's plugin turned the invite away unseen (its limits, or its app's `shouldRing`). */
  | { type: 'invite-refused' }
  /** Inviter: the invitee's answer arrived. */
  | { type: 'answer-received'; answer: 'accept' | 'refuse' }
  /** Inviter: the app cancels this invitee. */
  | { type: 'cancel'; data: string }
  /** Invitee: the app answers. */
  | { type: 'answer'; answer: 'accept' | 'refuse'; data: string }
  /** Invitee: the inviter's cancel arrived. */
  | { type: 'cancel-received' }
  /** Invitee: the inviter did not count our answer (it came after its deadline or its cancel). */
  | { type: 'answer-rejected'; reason: AnswerRejection }
  /** Either side: the deadline passed. */
  | { type: 'deadline' };

export type Transition = { ok: true; leg: Leg; changed: boolean } | { ok: false; code: InvitationErrorCode };

export function isAnswerable(state: LegState): boolean {
  return state === 'queued' || state === 'delivered' || state === 'ringing';
}

/** Why a leg in `state` can no longer be answered or canceled. */
export function refusalCode(state: LegState): InvitationErrorCode {
  switch (state) {
    case 'accepted':
    case 'refused':
      return 'ALREADY_RESPONDED';
    case 'canceled':
      return 'CANCELED';
    default:
      return 'EXPIRED';
  }
}

export function transition(leg: Leg, event: LegEvent, now: number): Transition {
  const expired = now >= leg.deadline;
  switch (event.type) {
    case 'wired':
      return leg.wired ? same(leg) : next(leg, { wired: true });

    case 'acked':
      if (leg.outbox !== event.of) return same(leg);
      if (event.of === 'invite' && leg.state === 'queued') return next(leg, { state: 'delivered', outbox: null, wired: true });
      return next(leg, { outbox: null, outboxData: '' });

    case 'invite-refused':
      if (leg.role !== 'inviter') return refuse('PROTOCOL_VIOLATION');
      if (leg.outbox !== 'invite') return same(leg);
      return next(leg, { state: 'refused', outbox: null, wired: true });

    case 'answer-received':
      if (leg.role !== 'inviter') return refuse('PROTOCOL_VIOLATION');
      if (!isAnswerable(leg.state)) return refuse(refusalCode(leg.state));
      if (expired) return refuse('EXPIRED');
      // An answer proves the invite arrived, even if its ack did not.
      return next(leg, { state: event.answer === 'accept' ? 'accepted' : 'refused', outbox: null, wired: true });

    case 'cancel':
      if (leg.role !== 'inviter') return refuse('PROTOCOL_VIOLATION');
      if (!isAnswerable(leg.state)) return refuse(refusalCode(leg.state));
      if (expired) return refuse('EXPIRED');
      // An invite that never left this browser needs no cancel to follow it.
      return next(leg, { state: 'canceled', outbox: leg.wired ? 'cancel' : null, outboxData: event.data });

    case 'answer':
      if (leg.role !== 'invitee') return refuse('PROTOCOL_VIOLATION');
      if (!isAnswerable(leg.state)) return refuse(refusalCode(leg.state));
      if (expired) return refuse('EXPIRED');
      return next(leg, { state: event.answer === 'accept' ? 'accepted' : 'refused', outbox: event.answer, outboxData: event.data });

    case 'cancel-received':
      if (leg.role !== 'invitee') return refuse('PROTOCOL_VIOLATION');
      // An inviter cancels only invitees it has not heard from, so a cancel that crosses
      // our unacknowledged answer wins: the inviter will not count that answer.
      if (isAnswerable(leg.state) || (leg.outbox === 'accept' || leg.outbox === 'refuse')) {
        return next(leg, { state: 'canceled', outbox: null, outboxData: '' });
      }
      return refuse(refusalCode(leg.state));

    case 'answer-rejected':
      if (leg.role !== 'invitee') return refuse('PROTOCOL_VIOLATION');
      // Only an answer still owed can be rejected; one the inviter acknowledged has counted.
      if (!owesAnswer(leg)) return same(leg);
      return next(leg, { state: event.reason === 'canceled' ? 'canceled' : 'timeout', outbox: null, outboxData: '' });

    case 'deadline':
      if (!expired) return same(leg);
      // An answer the inviter never acknowledged did not reach it in time: it saw a timeout, and so do we.
      if (isAnswerable(leg.state) || owesAnswer(leg)) return next(leg, { state: 'timeout', outbox: null, outboxData: '' });
      // Too late for whatever is still owed: the peer has timed out too.
      return leg.outbox === null ? same(leg) : next(leg, { outbox: null, outboxData: '' });
  }
}

function owesAnswer(leg: Leg): boolean {
  return leg.role === 'invitee' && (leg.outbox === 'accept' || leg.outbox === 'refuse');
}

function next(leg: Leg, patch: Partial<Leg>): Transition {
  return { ok: true, leg: { ...leg, ...patch }, changed: true };
}

function same(leg: Leg): Transition {
  return { ok: true, leg, changed: false };
}

function refuse(code: InvitationErrorCode): Transition {
  return { ok: false, code };
}
