/**
 * The roster of an advanced-mode call and its merge, pure (see README, "Advanced mode").
 *
 * Each member's row is two last-writer-wins registers: `self`, written only by the member, and
 * `ring`, written only by a member that rang it. A write takes a Lamport revision (one more than
 * the highest the writer has seen in the call), so a write that saw another beats it; writes that
 * crossed are ordered by a fixed rule. What the app sees of a row is a function of both registers,
 * and `ended` (the earliest end, once set, never cleared) overrides every row: merging is then
 * commutative, associative and idempotent, and members that have seen the same writes agree.
 */

/** What `invitationUserStateChanged$` says of a member. */
export type CallUserState = 'inviting' | 'received' | 'accepted' | 'refused' | 'timeout' | 'canceled' | 'quit' | 'ended';
export type RowState = Exclude<CallUserState, 'ended'>;

/** States a member writes of itself. */
export const SELF_STATES: ReadonlySet<RowState> = new Set(['received', 'accepted', 'refused', 'timeout', 'canceled', 'quit']);
/** States a member writes of a member it rang: the ring is going, was canceled, or ran out unanswered. */
export const RING_STATES: ReadonlySet<RowState> = new Set(['inviting', 'canceled', 'timeout']);
/** The member's own answers, which no ring state overrides: only the member's own next write does. */
const FIRM_SELF_STATES: ReadonlySet<RowState> = new Set(['accepted', 'refused', 'quit']);
/** Ties of equal revision (crossed writes): the later in this list wins. */
const RANK: readonly RowState[] = ['inviting', 'received', 'timeout', 'canceled', 'refused', 'accepted', 'quit'];

/** Members in one call, and so rows in one message, at most. */
export const MAX_CALL_MEMBERS = 32;
/** `data` of a join, quit, end or of an answer to a call's ring, in UTF-8 bytes: a message carries several. */
export const MAX_CALL_DATA_BYTES = 2048;

export interface Register {
  state: RowState;
  data: string;
  rev: number;
  /** Who wrote it: the member itself (`self`) or its ringer (`ring`). */
  by: string;
}

export interface RosterRow {
  id: string;
  self?: Register;
  ring?: Register;
}

export interface Ended {
  by: string;
  data: string;
  rev: number;
}

export interface Roster {
  callID: string;
  rows: Record<string, RosterRow>;
  /** Each writer's own end: every ender keeps telling its own, so an end reaches everyone even if an earlier one's writer went away. */
  ends: Record<string, Ended>;
  /** The end that counts: the earliest of `ends`. */
  ended?: Ended;
  /** The highest revision seen: the next write takes one more. */
  clock: number;
}

/** A row as it crosses the wire: written by the sender, of itself or of a member it rang. */
export interface WireRow {
  id: string;
  state: RowState;
  data: string;
  rev: number;
}

export interface CallUser {
  id: string;
  state: CallUserState;
  data: string;
}

export function emptyRoster(callID: string): Roster {
  return { callID, rows: {}, ends: {}, clock: 0 };
}

/** Why `from` may not write `row`, if it may not (a forged state: dropped and reported). */
export function forgery(from: string, row: Pick<WireRow, 'id' | 'state'>): string | undefined {
  if (row.id === from) return SELF_STATES.has(row.state) ? undefined : `"${from}" wrote "${row.state}" of itself, a state only its ringer writes`;
  return RING_STATES.has(row.state) ? undefined : `"${from}" wrote "${row.state}" for "${row.id}", a state only "${row.id}" writes`;
}

/** The winner of two writes of one register: the higher revision, then the fixed order of crossed writes. */
export function newer(a: Register | undefined, b: Register | undefined): Register | undefined {
  if (!a || !b) return a ?? b;
  if (a.rev !== b.rev) return a.rev > b.rev ? a : b;
  const rank = RANK.indexOf(a.state) - RANK.indexOf(b.state);
  if (rank !== 0) return rank > 0 ? a : b;
  if (a.by !== b.by) return a.by > b.by ? a : b;
  return a.data >= b.data ? a : b;
}

/** The end every member keeps: the earliest (lowest revision, then lowest id). */
export function earlierEnd(a: Ended | undefined, b: Ended | undefined): Ended | undefined {
  if (!a || !b) return a ?? b;
  if (a.rev !== b.rev) return a.rev < b.rev ? a : b;
  if (a.by !== b.by) return a.by < b.by ? a : b;
  return a.data <= b.data ? a : b;
}

/**
 * What the app sees of a row before the end: the ring's word only while the member's own is older
 * and not a firm answer. A member's `received` also beats `inviting`: its plugin got a ring (the
 * ring carries no revision, so its `received` may have a lower one than the ringer's `inviting`).
 */
export function rowState(row: RosterRow): Register | undefined {
  const { self, ring } = row;
  if (!self) return ring;
  if (!ring || FIRM_SELF_STATES.has(self.state) || newer(self, ring) === self) return self;
  return self.state === 'received' && ring.state === 'inviting' ? self : ring;
}

export function viewOf(roster: Roster): CallUser[] {
  return Object.values(roster.rows)
    .map((row) => {
      const register = rowState(row);
      return register && { id: row.id, state: roster.ended ? ('ended' as const) : register.state, data: register.data };
    })
    .filter((user): user is CallUser => user !== undefined)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether anyone is still in the call or being rung into it (and it was not ended). */
export function isLive(roster: Roster): boolean {
  if (roster.ended) return false;
  return Object.values(roster.rows).some((row) => {
    const state = rowState(row)?.state;
    return state === 'accepted' || state === 'inviting' || state === 'received';
  });
}

export function stateOf(roster: Roster, id: string): RowState | undefined {
  const row = roster.rows[id];
  return row && rowState(row)?.state;
}

/** Members whose own word was heard (so they speak v3 and are, or were, in the call). */
export function speakers(roster: Roster): string[] {
  return Object.values(roster.rows)
    .filter((row) => row.self)
    .map((row) => row.id);
}

/**
 * Writes by `writer`: its own row, a row of a member it rang, or the end. Returns the new roster
 * (the input is not changed). The caller checks the writer may (`forgery`).
 */
export function write(roster: Roster, writer: string, change: { id: string; state: RowState; data: string } | { end: string }): Roster {
  const rev = roster.clock + 1;
  if ('end' in change) {
    const own = earlierEnd(roster.ends[writer], { by: writer, data: change.end, rev })!;
    return { ...roster, clock: rev, ends: { ...roster.ends, [writer]: own }, ended: earlierEnd(roster.ended, own) };
  }
  const register: Register = { state: change.state, data: change.data, rev, by: writer };
  const row = roster.rows[change.id] ?? { id: change.id };
  const next: RosterRow = change.id === writer ? { ...row, self: register } : { ...row, ring: register };
  return { ...roster, clock: rev, rows: { ...roster.rows, [change.id]: next } };
}

/**
 * Merges what `from` wrote (rows it is authority for, checked by the caller, and its end if
 * any) into the roster. Returns the roster and whether anything the app sees changed.
 */
export function merge(roster: Roster, from: string, rows: readonly WireRow[], ended?: { data: string; rev: number }): { roster: Roster; changed: boolean } {
  let clock = roster.clock;
  const merged = { ...roster.rows };
  for (const wire of rows) {
    clock = Math.max(clock, wire.rev);
    const register: Register = { state: wire.state, data: wire.data, rev: wire.rev, by: from };
    const row = merged[wire.id] ?? { id: wire.id };
    merged[wire.id] = wire.id === from ? { ...row, self: newer(row.self, register)! } : { ...row, ring: newer(row.ring, register)! };
  }
  let end = roster.ended;
  let ends = roster.ends;
  if (ended) {
    clock = Math.max(clock, ended.rev);
    const theirs = earlierEnd(ends[from], { by: from, data: ended.data, rev: ended.rev })!;
    ends = { ...ends, [from]: theirs };
    end = earlierEnd(end, theirs);
  }
  const next: Roster = { callID: roster.callID, rows: merged, ends, clock, ...(end ? { ended: end } : {}) };
  return { roster: next, changed: JSON.stringify(viewOf(next)) !== JSON.stringify(viewOf(roster)) || end !== roster.ended };
}

/** What `writer` is authority for, to send: its own row, the ring registers it wrote, its own end (even if an earlier one counts). */
export function authoredBy(roster: Roster, writer: string): { rows: WireRow[]; ended?: { data: string; rev: number } } {
  const rows: WireRow[] = [];
  for (const row of Object.values(roster.rows)) {
    const register = row.id === writer ? row.self : row.ring?.by === writer ? row.ring : undefined;
    if (register) rows.push({ id: row.id, state: register.state, data: register.data, rev: register.rev });
  }
  const own = roster.ends[writer];
  const ended = own ? { data: own.data, rev: own.rev } : undefined;
  return ended ? { rows, ended } : { rows };
}
