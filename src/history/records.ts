/**
 * The history's pure core: a record is merged from facts (what one tab saw
 * happen to an invitation), and the merge is commutative, associative and
 * idempotent, so tabs writing the same facts in any order, any number of times
 * (a reload says an invitation rang again), agree on one record per invitation.
 * Outcomes only move up a rank; `seen` only goes from false to true.
 */
import type { InvitationOutcome, InvitationRecord, InviteeOutcome, ListInvitationsParams } from '../api/history.js';
import type { User } from '../api/calls.js';

type IncomingOutcome = Extract<InvitationOutcome, 'ringing' | 'missed' | 'accepted' | 'refused' | 'answeredElsewhere'>;

/** What is kept of one invitation. `type`, `data` and times are the first tab's word; outcomes the highest rank any tab saw. */
export interface StoredRecord {
  invitationID: string;
  direction: 'incoming' | 'outgoing';
  inviter?: User;
  type?: number;
  data?: string;
  createTime: number;
  deadline?: number;
  endTime?: number;
  /** Incoming only. */
  outcome?: IncomingOutcome;
  answer?: 'accept' | 'refuse';
  /** Outgoing only, by invitee id. */
  invitees?: Record<string, InviteeOutcome>;
  seen: boolean;
}

/** One tab's observation: the fields it knows. `time` is when it saw it. */
export interface Fact {
  invitationID: string;
  direction: 'incoming' | 'outgoing';
  time: number;
  inviter?: User;
  type?: number;
  data?: string;
  deadline?: number;
  outcome?: IncomingOutcome;
  answer?: 'accept' | 'refuse';
  invitees?: Record<string, InviteeOutcome>;
  seen?: boolean;
  /** `markSeen`: changes a record that exists, never makes one. */
  existingOnly?: boolean;
}

/**
 * Ranks: a later, more final word wins whatever order facts arrive in. An answer recorded by the tab
 * that gave it beats another tab's "answered elsewhere"; `busy` beats the plain refusal the same
 * answer also produces.
 */
const INCOMING_RANK: Record<IncomingOutcome, number> = { ringing: 0, missed: 1, answeredElsewhere: 2, refused: 3, accepted: 4 };
const INVITEE_RANK: Record<InviteeOutcome, number> = { ringing: 0, canceled: 1, timeout: 2, refused: 3, busy: 4, accepted: 5 };
/** Which invitee's outcome an outgoing invitation shows: the first of these any invitee has. */
const OUTGOING_SUMMARY: readonly InviteeOutcome[] = ['accepted', 'ringing', 'refused', 'busy', 'timeout', 'canceled'];
/** A record still ringing this long after its deadline was never told its end (the page was closed): it timed out. */
export const UNTOLD_END_GRACE_MS = 10_000;

function higher<T extends string>(rank: Record<T, number>, a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return rank[b] > rank[a] ? b : a;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

const isFinal = (outcome: string | undefined) => outcome !== undefined && outcome !== 'ringing';

/** The record after `fact` (undefined: still none); `existing` is not changed. */
export function mergeFact(existing: StoredRecord | undefined, fact: Fact): StoredRecord | undefined {
  if (!existing && fact.existingOnly) return undefined;
  const base: StoredRecord = existing ?? { invitationID: fact.invitationID, direction: fact.direction, createTime: fact.time, seen: fact.direction === 'outgoing' };
  const merged: StoredRecord = { ...base, createTime: Math.min(base.createTime, fact.time), seen: base.seen || fact.seen === true };
  merged.inviter ??= fact.inviter;
  merged.type ??= fact.type;
  merged.data ??= fact.data;
  merged.deadline ??= fact.deadline;
  if (fact.outcome !== undefined) {
    const outcome = higher(INCOMING_RANK, base.outcome, fact.outcome)!;
    merged.outcome = outcome;
    if (outcome === 'answeredElsewhere') merged.answer = base.answer ?? fact.answer;
    else delete merged.answer;
  }
  if (fact.invitees) {
    const invitees = { ...base.invitees };
    for (const [id, outcome] of Object.entries(fact.invitees)) invitees[id] = higher(INVITEE_RANK, invitees[id], outcome)!;
    merged.invitees = invitees;
  }
  const finalNow = fact.outcome !== undefined ? isFinal(fact.outcome) : Object.values(fact.invitees ?? {}).some(isFinal);
  if (finalNow) merged.endTime = minDefined(base.endTime, fact.time);
  return merged;
}

/** Merges two stored copies of one record (an unsaved one over the saved one). */
export function mergeRecords(a: StoredRecord, b: StoredRecord): StoredRecord {
  const merged = mergeFact(a, { ...b, time: b.createTime })!;
  merged.endTime = minDefined(a.endTime, b.endTime);
  return merged;
}

/** What `listInvitations` shows of a stored record at `now`. */
export function view(record: StoredRecord, self: User, now: number): InvitationRecord {
  const deadline = record.deadline ?? record.createTime;
  const untold = now > deadline + UNTOLD_END_GRACE_MS;
  const shown: InvitationRecord = {
    invitationID: record.invitationID,
    direction: record.direction,
    inviter: record.direction === 'outgoing' ? self : (record.inviter ?? { id: record.invitationID.split(':')[0]!, name: '' }),
    invitees: [],
    type: record.type ?? 0,
    data: record.data ?? '',
    createTime: record.createTime,
    deadline,
    outcome: 'ringing',
    seen: record.seen,
  };
  if (record.direction === 'incoming') {
    shown.outcome = record.outcome ?? 'ringing';
    if (shown.outcome === 'ringing' && untold) shown.outcome = 'missed';
    if (record.answer) shown.answer = record.answer;
  } else {
    shown.invitees = Object.entries(record.invitees ?? {}).map(([id, outcome]) => ({ id, outcome: outcome === 'ringing' && untold ? 'timeout' : outcome }));
    const outcomes = new Set(shown.invitees.map((invitee) => invitee.outcome));
    shown.outcome = OUTGOING_SUMMARY.find((outcome) => outcomes.has(outcome)) ?? 'ringing';
  }
  const endTime = record.endTime ?? (shown.outcome !== 'ringing' && untold ? deadline : undefined);
  if (endTime !== undefined && shown.outcome !== 'ringing') shown.endTime = endTime;
  return shown;
}

export const DEFAULT_LIST_LIMIT = 50;

/** Newest first, filtered as `params` asks (already checked). */
export function select(records: readonly InvitationRecord[], params: ListInvitationsParams): InvitationRecord[] {
  const { direction, outcome, before, limit = DEFAULT_LIST_LIMIT } = params;
  return records
    .filter((record) => (direction === undefined || record.direction === direction) && (outcome === undefined || record.outcome === outcome) && (before === undefined || record.createTime < before))
    .sort((a, b) => b.createTime - a.createTime || (a.invitationID < b.invitationID ? 1 : -1))
    .slice(0, limit);
}
