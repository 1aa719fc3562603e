/**
 * Advanced mode: the calls this user is a member of (README, "Advanced mode"). A call's rings are
 * basic invitations of their ringers carrying the call id; this layer keeps each call's roster
 * (src/core/roster.ts), writes this user's rows when the app or a ring changes them, and tells
 * every member that spoke in the call what this user is authority for, over Delivery: acked,
 * retried until acked while the call is held here. Calls are saved with the legs (Persistence)
 * and held again after a reload, what they still owe included; a restored call makes the user
 * busy only once this page's app acts on it (joins or accepts), so busy never outlives a crash.
 */
import { Subscription, timer } from 'rxjs';
import type { AddInvitationResult, CallActionResult, JoinInvitationResult } from '../../api/calls.js';
import { InvitationError } from '../../errors.js';
import { PROTOCOL_VERSION, encodedSize, isInvitationOf, MAX_MESSAGE_BYTES, type AckMessage, type CallMessage, type InviteMessage, type RingCall } from '../../core/protocol.js';
import {
  MAX_CALL_MEMBERS,
  authoredBy,
  emptyRoster,
  forgery,
  isLive,
  merge,
  speakers,
  stateOf,
  viewOf,
  write,
  type CallUser,
  type Roster,
  type RowState,
} from '../../core/roster.js';
import { isAnswerable, type Leg } from '../../core/state-machine.js';
import { checkAdd, checkCallAction } from '../../core/validate.js';
import type { StoredCall } from '../../storage/store.js';
import type { OwedMessage } from '../delivery.js';
import type { SessionContext } from '../context.js';
import type { AppCalls } from '../app-calls.js';

/** Calls held at once; the oldest that is over is forgotten to make room. */
export const MAX_CALLS = 64;
/**
 * How long a call that is over is kept (and its end resent to members that did not ack it), at
 * least: `delivery.retentionMs` if that is longer.
 */
export const ENDED_CALL_RETENTION_MS = 10 * 60_000;
/** A live call the store forgets after this long without a change (its members all went away). */
export const IDLE_CALL_RETENTION_MS = 24 * 60 * 60_000;

interface Call {
  roster: Roster;
  type: number;
  /** The first ring's timeout: `addInvitation`'s default. */
  timeoutMs: number;
  /** Rings of this call this user received or made, so `joinInvitation` takes their ids too. */
  readonly rings: Set<string>;
  /** Who is told what this user writes: members that spoke, and the ringers of this user's rings. */
  readonly audience: Set<string>;
  /** Version of what this user wrote, and who has not acked it yet. */
  seq: number;
  readonly owed: Set<string>;
  /** The rows as the app was last told. */
  told: Map<string, CallUser>;
  endTold: boolean;
  /** This page's app created, joined or accepted it: only then is the user busy with it. */
  active: boolean;
  /** Once it is over: when it is forgotten. */
  forgetAt?: number;
  forget?: Subscription;
}

export class Calls {
  readonly #calls = new Map<string, Call>();
  readonly #context: SessionContext;
  #app: AppCalls | undefined;
  #closed = false;

  constructor(context: SessionContext) {
    this.#context = context;
  }

  /** The basic calls, for the rings this layer makes and cancels. */
  attach(app: AppCalls): void {
    this.#app = app;
  }

  get #me(): string {
    return this.#context.user.id;
  }

  // What the app asks

  /** `sendInvitation({ advancedMode: true })`: the call exists, with its creator in it, before its first ring is committed. */
  created(callID: string, type: number, timeoutMs: number): InvitationError | RingCall {
    const room = this.#makeRoom();
    if (room) return room;
    const call = this.#newCall(callID, type, timeoutMs);
    call.active = true;
    this.#write(call, { id: this.#me, state: 'accepted', data: '' });
    return { id: callID, members: [this.#me] };
  }

  async add(params: unknown): Promise<AddInvitationResult> {
    const checked = checkAdd(params, this.#me);
    if (checked instanceof InvitationError) return { invitationID: echo(params), ringID: '', errorInvitees: {}, error: checked };
    const call = this.#find(checked.invitationID);
    const refused = this.#mayAct(call, checked.invitationID);
    if (refused) return { invitationID: checked.invitationID, ringID: '', errorInvitees: {}, error: refused };
    const { roster } = call!;
    const errorInvitees = { ...checked.errorInvitees };
    let members = Object.keys(roster.rows).length;
    const invitees: string[] = [];
    for (const invitee of checked.invitees) {
      if (stateOf(roster, invitee) === 'accepted') errorInvitees[invitee] = 'in-call';
      else if (!roster.rows[invitee] && members >= MAX_CALL_MEMBERS) errorInvitees[invitee] = 'call-full';
      else {
        if (!roster.rows[invitee]) members++;
        invitees.push(invitee);
      }
    }
    const timeout = checked.timeoutMs === undefined ? call!.timeoutMs / 1000 : checked.timeoutMs / 1000;
    const result = await this.#app!.sendInvitation(
      { inviterName: this.#context.user.name, invitees, timeout, type: call!.type, data: checked.data },
      undefined,
      this.#ringOf(call!),
    );
    const rung = result.invitationID ? { type: call!.type, timeout } : {};
    return { ...result, ...rung, invitationID: roster.callID, ringID: result.invitationID, errorInvitees: { ...errorInvitees, ...result.errorInvitees } };
  }

  async join(params: unknown): Promise<JoinInvitationResult> {
    const checked = checkCallAction(params, 'joinInvitation');
    if (checked instanceof InvitationError) return { invitationID: echo(params), users: [], error: checked };
    const call = this.#find(checked.invitationID);
    if (!call || !call.roster.rows[this.#me]) return { invitationID: checked.invitationID, users: [], error: notFound(checked.invitationID) };
    const callID = call.roster.callID;
    if (!isLive(call.roster)) return { invitationID: callID, users: [], error: ended(callID) };
    call.active = true;
    if (stateOf(call.roster, this.#me) === 'accepted') this.#context.announcer.inCall(this.inCall);
    else {
      this.#write(call, { id: this.#me, state: 'accepted', data: checked.data });
      // Joined while a ring of this call still rings here: that is accepting it, and its ringer hears so.
      for (const ring of call.rings) {
        if (this.#context.legs.received(ring)?.state === 'ringing') void this.#app!.respond({ invitationID: ring, data: checked.data }, 'accept');
      }
    }
    return { invitationID: callID, users: viewOf(call.roster) };
  }

  async quit(params: unknown): Promise<CallActionResult> {
    return this.#leave(params, 'quitInvitation');
  }

  async end(params: unknown): Promise<CallActionResult> {
    return this.#leave(params, 'endInvitation');
  }

  async #leave(params: unknown, method: 'quitInvitation' | 'endInvitation'): Promise<CallActionResult> {
    const checked = checkCallAction(params, method);
    if (checked instanceof InvitationError) return { invitationID: echo(params), error: checked };
    const call = this.#find(checked.invitationID);
    const refused = this.#mayAct(call, checked.invitationID);
    if (refused) return { invitationID: call?.roster.callID ?? checked.invitationID, error: refused };
    this.#write(call!, method === 'quitInvitation' ? { id: this.#me, state: 'quit', data: checked.data } : { end: checked.data });
    return { invitationID: call!.roster.callID };
  }

  /** Why this user may not add to, quit or end the call, if it may not. */
  #mayAct(call: Call | undefined, invitationID: string): InvitationError | undefined {
    if (!call) return notFound(invitationID);
    if (!isLive(call.roster)) return ended(call.roster.callID);
    if (stateOf(call.roster, this.#me) !== 'accepted') return new InvitationError('NOT_IN_CALL', `This user is not in call "${call.roster.callID}" (join it first)`);
    return undefined;
  }

  // What rings do: every committed change of a leg of a call comes here (compose.ts)

  legChanged(before: Leg | undefined, leg: Leg): void {
    if (!leg.call || before?.state === leg.state) return;
    if (leg.role === 'invitee') {
      const call = before ? this.#calls.get(leg.call.id) : this.#rungInto(leg.peer, leg.call, leg.type, leg.deadline - leg.createTime, leg.invitationID);
      if (!call || call.roster.ended) return;
      const mine = stateOf(call.roster, this.#me);
      if (leg.state === 'accepted') call.active = true;
      if (leg.state === 'ringing' && mine !== 'accepted') this.#write(call, { id: this.#me, state: 'received', data: '' });
      else if (leg.state === 'accepted' && mine !== 'accepted') this.#write(call, { id: this.#me, state: 'accepted', data: leg.outboxData });
      else if ((leg.state === 'refused' || leg.state === 'timeout' || leg.state === 'canceled') && mine === 'received') this.#write(call, { id: this.#me, state: leg.state, data: leg.state === 'refused' ? leg.outboxData : '' });
      else if (leg.state === 'accepted') this.#context.announcer.inCall(this.inCall);
      this.#save(call);
      return;
    }
    const call = this.#calls.get(leg.call.id);
    if (!call || call.roster.ended) return;
    call.rings.add(leg.invitationID);
    const theirs = stateOf(call.roster, leg.peer);
    if (!before && leg.state === 'queued' && theirs !== 'accepted') this.#write(call, { id: leg.peer, state: 'inviting', data: '' });
    else if ((leg.state === 'canceled' || leg.state === 'timeout') && (theirs === 'inviting' || theirs === 'received')) {
      // Without the cancel's data: a row's data is the member's own word (and at most 2 KiB).
      this.#write(call, { id: leg.peer, state: leg.state, data: '' });
    }
    this.#save(call);
  }

  /** A ring of a call this plugin turned away unseen (busy, blocked, a limit): this user's row says refused. */
  ringRefused(from: string, invite: InviteMessage): void {
    if (!invite.call || !(invite.speaks! >= 3)) return;
    const call = this.#calls.get(invite.call.id) ?? this.#rungInto(from, invite.call, invite.type, invite.remainingMs, invite.invitationID);
    if (!call) return;
    if (call.roster.ended || stateOf(call.roster, this.#me) === 'accepted') return this.#save(call);
    this.#write(call, { id: this.#me, state: 'refused', data: '' });
  }

  /** The first ring of a call reaching this user: the call as the ring tells it. */
  #rungInto(ringer: string, ring: RingCall, type: number, timeoutMs: number, ringID: string): Call | undefined {
    let call = this.#calls.get(ring.id);
    if (!call) {
      if (this.#makeRoom()) return undefined;
      call = this.#newCall(ring.id, type, timeoutMs);
    }
    call.rings.add(ringID);
    for (const member of [ringer, ...ring.members]) if (member !== this.#me) call.audience.add(member);
    return call;
  }

  // What peers send

  receive(from: string, message: CallMessage): void {
    let call = this.#calls.get(message.invitationID);
    const forged = message.rows.map((row) => forgery(from, row)).find((reason) => reason !== undefined);
    if (forged) return this.#refuse(from, message, forged);
    if (!call) {
      // A call not held here: taken only from a member that speaks in it and names this user.
      const namesMe = message.members.includes(this.#me) || message.rows.some((row) => row.id === this.#me);
      if (!namesMe || !message.rows.some((row) => row.id === from)) return this.#refuse(from, message, `call "${message.invitationID}" that does not name this user`);
      if (this.#makeRoom()) return this.#refuse(from, message, `over the ${MAX_CALLS} calls this plugin holds`);
      call = this.#newCall(message.invitationID, 0, 30_000);
    } else if (!call.roster.rows[from] && !call.audience.has(from) && !isInvitationOf(message.invitationID, from)) {
      // Not a member here yet: the ring that makes it one may still be on its way. Unacked, so it comes again.
      return;
    }
    const wasLive = isLive(call.roster);
    const { roster, changed } = merge(call.roster, from, message.rows, message.ended);
    if (Object.keys(roster.rows).length > MAX_CALL_MEMBERS) return this.#refuse(from, message, `more than ${MAX_CALL_MEMBERS} members in call "${message.invitationID}"`);
    call.roster = roster;
    this.#acknowledge(from, message);
    // Members this user did not know of hear what it wrote (and the sender, if it is new here).
    for (const member of [from, ...message.members, ...speakers(roster)]) {
      if (member === this.#me || call.audience.has(member)) continue;
      call.audience.add(member);
      if (call.seq > 0) this.#owe(call, member);
    }
    // The last members left at once, each seeing another still in: the closer ends it once it sees it empty.
    if (wasLive && !isLive(roster) && !roster.ended && this.#me === closer(roster)) return this.#write(call, { end: '' });
    if (changed) this.#announce(call);
    this.#save(call);
  }

  /** An ack of a call message: that member has what this user wrote up to `seq`. */
  acked(from: string, ack: AckMessage): void {
    const call = this.#calls.get(ack.invitationID);
    if (!call || ack.seq === undefined) return;
    if (ack.seq < call.seq) return this.#context.delivery.kick(from);
    if (call.owed.delete(from)) this.#save(call);
  }

  /** What Delivery owes `peer` of the calls: one message per call, the latest of what this user wrote. */
  owed(peer: string): OwedMessage[] {
    const owed: OwedMessage[] = [];
    for (const call of this.#calls.values()) {
      if (call.owed.has(peer)) owed.push({ kind: 'call', invitationID: call.roster.callID, compose: () => this.#message(call) });
    }
    return owed;
  }

  /** Call messages owed and not yet acked (one per call and member), for `stats().pendingDeliveries`. */
  get owedCount(): number {
    let count = 0;
    for (const call of this.#calls.values()) count += call.owed.size;
    return count;
  }

  /** Peers some call owes a message: greeted once connected. */
  owedPeers(): Set<string> {
    const peers = new Set<string>();
    for (const call of this.#calls.values()) for (const peer of call.owed) peers.add(peer);
    return peers;
  }

  /**
   * Whether this user is in a live call (own row `accepted`, call not ended) that this page's app
   * created, joined or accepted: busy, for `refuseWhenBusy`.
   */
  get inCall(): boolean {
    for (const call of this.#calls.values()) if (call.active && isLive(call.roster) && stateOf(call.roster, this.#me) === 'accepted') return true;
    return false;
  }

  // Across reloads

  /** Holds the calls an earlier page saved, before the transport opens. */
  hold(stored: readonly StoredCall[]): void {
    for (const saved of stored) {
      if (this.#calls.size >= MAX_CALLS) break;
      const call = this.#newCall(saved.callID, saved.type, saved.timeoutMs);
      call.roster = saved.roster;
      for (const ring of saved.rings) call.rings.add(ring);
      for (const member of saved.audience) call.audience.add(member);
      for (const member of saved.owed) call.owed.add(member);
      call.seq = saved.seq;
      call.endTold = saved.endTold;
      if (saved.roster.ended) {
        call.forgetAt = saved.forgetAt;
        this.#scheduleForget(call);
      }
    }
  }

  /** Tells the app of the calls held again (rows as states; an end it was not told yet, once). */
  restored(): void {
    for (const call of this.#calls.values()) {
      if (call.endTold) continue;
      this.#announce(call);
      this.#save(call);
    }
  }

  /** Every call held, as the store keeps it: to rewrite the store after a failure. */
  snapshot(): StoredCall[] {
    return [...this.#calls.values()].map((call) => this.#record(call));
  }

  close(): void {
    this.#closed = true;
    for (const call of this.#calls.values()) call.forget?.unsubscribe();
    this.#calls.clear();
    this.#context.announcer.inCall(false);
  }

  // Inside

  #newCall(callID: string, type: number, timeoutMs: number): Call {
    const call: Call = { roster: emptyRoster(callID), type, timeoutMs, rings: new Set(), audience: new Set(), seq: 0, owed: new Set(), told: new Map(), endTold: false, active: false };
    this.#calls.set(callID, call);
    return call;
  }

  /** Room for one more call, forgetting the oldest that is over; an error when every held call lives. */
  #makeRoom(): InvitationError | undefined {
    if (this.#calls.size < MAX_CALLS) return undefined;
    for (const call of this.#calls.values()) {
      if (isLive(call.roster)) continue;
      this.#forget(call);
      return undefined;
    }
    return new InvitationError('CALL_FULL', `This plugin holds ${MAX_CALLS} live calls already`);
  }

  /** A call by its id or by the id of one of its rings. */
  #find(invitationID: string): Call | undefined {
    const call = this.#calls.get(invitationID);
    if (call) return call;
    for (const candidate of this.#calls.values()) if (candidate.rings.has(invitationID)) return candidate;
    return undefined;
  }

  #ringOf(call: Call): RingCall {
    return { id: call.roster.callID, members: [this.#me, ...[...call.audience].filter((member) => call.roster.rows[member]?.self)].slice(0, MAX_CALL_MEMBERS) };
  }

  /**
   * This user writes a row or the end, tells the app, and owes it to every member it knows. Its own
   * row leaving nobody in the call or rung into it ends it too: "everyone left" is then as final,
   * for every member, as an end (with the last one's data).
   */
  #write(call: Call, change: { id: string; state: RowState; data: string } | { end: string }): void {
    const wasLive = isLive(call.roster);
    call.roster = write(call.roster, this.#me, change);
    // A ring that ran out ends the call only if its invitee never heard it: else the invitee's own timeout does.
    const closes = 'id' in change && (change.id === this.#me || !call.roster.rows[change.id]?.self);
    if (closes && wasLive && !isLive(call.roster)) call.roster = write(call.roster, this.#me, { end: change.id === this.#me ? change.data : '' });
    call.seq++;
    for (const member of call.audience) this.#owe(call, member);
    this.#announce(call);
    this.#save(call);
  }

  #owe(call: Call, member: string): void {
    call.owed.add(member);
    this.#context.delivery.kick(member);
  }

  #message(call: Call): CallMessage {
    const { rows, ended } = authoredBy(call.roster, this.#me);
    const members = [this.#me, ...speakers(call.roster).filter((member) => member !== this.#me)].slice(0, MAX_CALL_MEMBERS);
    const message: CallMessage = { v: PROTOCOL_VERSION, kind: 'call', invitationID: call.roster.callID, seq: call.seq, rows, members };
    if (ended) message.ended = ended;
    // Within the limits it fits (one row of this user's data, 2 KiB, an end's, and 32 short rows and ids); the hearsay goes first if not.
    if (encodedSize(message) > MAX_MESSAGE_BYTES) message.members = [this.#me];
    return message;
  }

  /** The app hears the rows that changed, then the end, once; busy follows. */
  #announce(call: Call): void {
    const { announcer } = this.#context;
    const view = viewOf(call.roster);
    const changed = view.filter((user) => {
      const told = call.told.get(user.id);
      return !told || told.state !== user.state || told.data !== user.data;
    });
    call.told = new Map(view.map((user) => [user.id, user]));
    if (changed.length > 0) announcer.callUsers({ invitationID: call.roster.callID, users: changed });
    const end = call.roster.ended;
    if (end && !call.endTold) {
      call.endTold = true;
      announcer.callEnded({ invitationID: call.roster.callID, by: end.by, data: end.data });
      for (const ring of call.rings) announcer.stopRinging(ring);
      this.#scheduleForget(call);
      this.#cancelRings(call);
    }
    announcer.inCall(this.inCall);
  }

  /** Once ended, rings this user made that still ring stop. */
  #cancelRings(call: Call): void {
    for (const ring of call.rings) {
      const pending = this.#context.legs.sent(ring);
      if (!pending || ![...pending.values()].some((leg) => isAnswerable(leg.state))) continue;
      void this.#app?.cancelInvitation({ invitationID: ring, data: '' });
    }
  }

  #scheduleForget(call: Call): void {
    if (call.forget || this.#closed) return;
    const { clock, scheduler, delivery } = this.#context.settings;
    call.forgetAt ??= clock.now() + Math.max(ENDED_CALL_RETENTION_MS, delivery.retentionMs);
    call.forget = timer(Math.max(0, call.forgetAt - clock.now()), scheduler).subscribe(() => this.#forget(call));
  }

  #forget(call: Call): void {
    call.forget?.unsubscribe();
    this.#calls.delete(call.roster.callID);
    this.#context.persistence.forgetCall(call.roster.callID);
  }

  /** Queues the call for the store, as it is now. */
  #save(call: Call): void {
    if (this.#closed || this.#calls.get(call.roster.callID) !== call) return;
    this.#context.persistence.saveCall(this.#record(call));
  }

  #record(call: Call): StoredCall {
    return {
      callID: call.roster.callID,
      roster: call.roster,
      type: call.type,
      timeoutMs: call.timeoutMs,
      rings: [...call.rings],
      audience: [...call.audience],
      seq: call.seq,
      owed: [...call.owed],
      endTold: call.endTold,
      forgetAt: call.forgetAt ?? this.#context.settings.clock.now() + IDLE_CALL_RETENTION_MS,
    };
  }

  #acknowledge(to: string, message: CallMessage): void {
    const ack: AckMessage = { v: PROTOCOL_VERSION, kind: 'ack', of: 'call', invitationID: message.invitationID, seq: message.seq };
    try {
      this.#context.transport.send(to, ack);
    } catch {
      // Gone; the sender sends again and we ack that.
    }
  }

  /** A message that breaks the rules: reported, not merged, acked so an honest sender does not loop. */
  #refuse(from: string, message: CallMessage, reason: string): void {
    this.#context.transport.reportViolation({ peer: from, reason });
    this.#acknowledge(from, message);
  }
}

/**
 * Who ends a call that everyone left: the lowest id of the members that wrote their own row. One
 * member, so every member is told the same end (two ringers' timeouts, or two quits, cross).
 */
function closer(roster: Roster): string | undefined {
  return speakers(roster).sort()[0];
}

function echo(params: unknown): string {
  const id = typeof params === 'object' && params !== null ? (params as { invitationID?: unknown }).invitationID : undefined;
  return typeof id === 'string' ? id : '';
}

function notFound(invitationID: string): InvitationError {
  return new InvitationError('NOT_FOUND', `No call "${invitationID}" is known here`);
}

function ended(callID: string): InvitationError {
  return new InvitationError('CALL_ENDED', `Call "${callID}" has ended`);
}
