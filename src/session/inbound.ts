/**
 * What peers send: every frame is decoded, attributed to the connection it came
 * on, and run through the state machine. Acks go out only once what they
 * acknowledge is saved here: an ack means "stored", so a sender whose message
 * was lost before the write sends it again.
 */
import { InvitationError, type InvitationErrorCode } from '../errors.js';
import type { Parts } from './context.js';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  type AckMessage,
  type AnswerMessage,
  type AnswerRejection,
  type CancelMessage,
  type InviteMessage,
  type InviteRefusal,
  isInvitationOf,
  limitRefusal,
} from '../core/protocol.js';
import { textBytes } from './legs.js';
import { transition, type Leg, type LegEvent } from '../core/state-machine.js';

export class Inbound {
  readonly #parts: Parts;
  /** Invites waiting for the app's `shouldRing`. */
  readonly #deciding = new Set<string>();
  /** Invites turned away, and why: a repeat is refused alike, unasked and unstored. */
  readonly #refused = new Map<string, InviteRefusal>();
  #closed = false;

  constructor(parts: Parts) {
    this.#parts = parts;
  }

  #now(): number {
    return this.#parts.settings.clock.now();
  }

  /** Decisions still pending when the session ends come to nothing. */
  close(): void {
    this.#closed = true;
  }

  receive(from: string, frame: unknown): void {
    // Frames already read from a peer that was just cut off are dropped too.
    if (this.#parts.transport.isBanned(from)) return;
    const decoded = decodeMessage(frame);
    if (!decoded.ok) return this.#violation(from, decoded.reason);
    const message = decoded.message;
    if ((message.kind === 'invite' || message.kind === 'cancel') && !isInvitationOf(message.invitationID, from)) {
      return this.#violation(from, `${message.kind} of "${message.invitationID}", an invitation "${from}" did not make`);
    }
    switch (message.kind) {
      case 'ack':
        return this.#onAck(from, message);
      case 'invite':
        return this.#onInvite(from, message);
      case 'cancel':
        return this.#onCancel(from, message);
      case 'accept':
      case 'refuse':
        return this.#onAnswer(from, message);
      case 'hello':
      case 'ping':
        // Hello only opened the connection, which already made Delivery retry.
        return;
    }
  }

  #onAck(from: string, ack: AckMessage): void {
    this.#parts.delivery.acked(from, ack);
    const leg = this.#parts.legs.get(ack.invitationID, from);
    // A rejection or refusal counts only for the message we still owe (PROTOCOL.md): anything else is a plain ack.
    if (ack.rejected && leg?.role === 'invitee' && leg.outbox === ack.of) return this.#onAnswerRejected(leg, ack.rejected);
    if (ack.refused && leg?.role === 'inviter' && leg.outbox === 'invite') return this.#onInviteRefused(leg, ack.refused);
    this.#apply(ack.invitationID, from, { type: 'acked', of: ack.of });
  }

  /** The invitee's plugin turned our invite away unseen: as a refusal, with the reason. */
  #onInviteRefused(leg: Leg, reason: InviteRefusal): void {
    const result = transition(leg, { type: 'invite-refused' }, this.#now());
    if (!result.ok || !result.changed) return;
    void this.#parts.commit([result.leg]);
    this.#parts.announcer.refusedUnseen(result.leg, reason);
  }

  /** Our answer came too late to count: end the invitation here as the inviter saw it end. */
  #onAnswerRejected(leg: Leg, reason: AnswerRejection): void {
    const result = transition(leg, { type: 'answer-rejected', reason }, this.#now());
    if (!result.ok || !result.changed) return;
    void this.#parts.commit([result.leg]);
    if (result.leg.state === 'canceled') this.#parts.announcer.canceled(result.leg, '');
    else this.#parts.announcer.timedOut(result.leg);
  }

  #onInvite(from: string, invite: InviteMessage): void {
    const { legs } = this.#parts;
    const key = decisionKey(from, invite.invitationID);
    // The same invite again (its ack was lost): acknowledge once the first copy is saved, announce nothing.
    if (legs.get(invite.invitationID, from)) return this.#acknowledgeWhenSaved(from, invite);
    // Still being decided (the app's shouldRing): the sender's retry will find the decision made.
    if (this.#deciding.has(key)) return;
    const refused = this.#refused.get(key);
    if (refused) return this.#acknowledge(from, invite, { refused });
    // Already expired on the way: never ring, but stop the sender retrying.
    if (invite.remainingMs <= 0) return this.#acknowledge(from, invite);
    const leg = this.#receivedLeg(from, invite, {
      state: 'ringing',
      inviterName: invite.inviterName,
      type: invite.type,
      data: invite.data,
      ...(invite.notification ? { notification: invite.notification } : {}),
    });
    const overLimit = this.#overLimit(leg);
    if (overLimit) {
      this.#violation(from, overLimit);
      return this.#refuse(from, invite, limitRefusal(invite));
    }
    const shouldRing = this.#parts.settings.shouldRing;
    if (!shouldRing) return this.#ring(from, invite, leg);
    this.#deciding.add(key);
    void this.#ask(shouldRing, leg).then((allowed) => {
      this.#deciding.delete(key);
      if (this.#closed) return;
      // A cancel overtook the invite while the app decided: it never rings.
      if (this.#parts.legs.has(leg.invitationID)) return this.#acknowledgeWhenSaved(from, invite);
      if (allowed !== true) return this.#refuse(from, invite, allowed === 'busy' ? 'busy' : 'blocked');
      // Time passed while the app decided: the invitation keeps its deadline, and the limits are checked again.
      const decided = { ...leg, createTime: this.#now() };
      if (decided.deadline <= decided.createTime) return this.#acknowledge(from, invite);
      const stillOver = this.#overLimit(decided);
      if (stillOver) {
        this.#violation(from, stillOver);
        return this.#refuse(from, invite, limitRefusal(invite));
      }
      this.#ring(from, invite, decided);
    });
  }

  /** Stores, arms and announces a new invitation; acks it once saved. */
  #ring(from: string, invite: InviteMessage, leg: Leg): void {
    const { legs, deadlines, announcer } = this.#parts;
    // Announced before the disk write is done; acked after it, so an unsaved invite is sent again.
    const saved = this.#parts.commit([leg]);
    deadlines.arm(leg.invitationID, leg.deadline);
    announcer.ring(leg, this.#now(), () => legs.get(leg.invitationID, from)?.state === 'ringing');
    void saved.then(() => this.#acknowledge(from, invite));
  }

  /** Why a new invitation may not be held, if it may not. */
  #overLimit(leg: Leg): string | undefined {
    const { legs, settings } = this.#parts;
    const limits = settings.limits;
    if (legs.ringingFrom(leg.peer) >= limits.maxLiveInvitationsPerInviter) return `more than ${limits.maxLiveInvitationsPerInviter} invitations ringing at once from one inviter`;
    if (legs.invitationCount >= limits.maxStoredInvitations) return `over the ${limits.maxStoredInvitations} invitations this plugin holds`;
    if (legs.bytes + textBytes(leg) > limits.maxStoredBytes) return `over the ${limits.maxStoredBytes} bytes this plugin holds`;
    return undefined;
  }

  /** Refuses an invite on the wire, and remembers it so a repeat gets the same answer without asking again. */
  #refuse(from: string, invite: InviteMessage, reason: InviteRefusal): void {
    this.#refused.set(decisionKey(from, invite.invitationID), reason);
    while (this.#refused.size > REMEMBERED_REFUSALS) this.#refused.delete(this.#refused.keys().next().value!);
    this.#acknowledge(from, invite, { refused: reason });
  }

  /** The app's `shouldRing`, contained: one that throws or rejects is reported, and the invitation rings. */
  async #ask(shouldRing: NonNullable<Parts['settings']['shouldRing']>, leg: Leg): Promise<boolean | 'busy'> {
    try {
      const verdict = await shouldRing(this.#parts.announcer.receivedEvent(leg, this.#now()));
      return verdict === 'busy' ? verdict : verdict !== false;
    } catch (error) {
      this.#parts.announcer.error(new InvitationError('APP_CALLBACK_FAILED', "The app's shouldRing callback threw; the invitation rings", { cause: error }));
      return true;
    }
  }

  /** An invitee leg for a message from its inviter: the deadline is our clock plus the time it had left. */
  #receivedLeg(from: string, message: InviteMessage | CancelMessage, fields: Pick<Leg, 'state' | 'inviterName' | 'type' | 'data' | 'notification'>): Leg {
    const now = this.#now();
    return {
      invitationID: message.invitationID,
      peer: from,
      role: 'invitee',
      ...fields,
      createTime: now,
      deadline: now + message.remainingMs,
      outbox: null,
      outboxData: '',
      wired: true,
    };
  }

  #onCancel(from: string, cancel: CancelMessage): void {
    const { legs, deadlines, announcer } = this.#parts;
    const leg = legs.get(cancel.invitationID, from);
    if (legs.has(cancel.invitationID) && leg?.role !== 'invitee') {
      return this.#violation(from, `cancel of "${cancel.invitationID}" from a peer that is not its inviter`);
    }
    if (!leg) {
      // The cancel overtook its invite: remember it, so the invite is dropped when it comes.
      if (cancel.remainingMs <= 0) return this.#acknowledge(from, cancel);
      const { maxUnknownCancelsPerPeer } = this.#parts.settings.limits;
      if (legs.canceledFrom(from) >= maxUnknownCancelsPerPeer) {
        this.#violation(from, `more than ${maxUnknownCancelsPerPeer} cancels for invitations not seen here`);
        return this.#acknowledge(from, cancel);
      }
      const tombstone = this.#receivedLeg(from, cancel, { state: 'canceled', inviterName: '', type: 0, data: '' });
      deadlines.arm(tombstone.invitationID, tombstone.deadline);
      void this.#parts.commit([tombstone]).then(() => this.#acknowledge(from, cancel));
      return;
    }
    const result = transition(leg, { type: 'cancel-received' }, this.#now());
    if (!result.ok) return this.#acknowledgeWhenSaved(from, cancel);
    const saved = this.#parts.commit([result.leg]);
    announcer.canceled(result.leg, cancel.data);
    void saved.then(() => this.#acknowledge(from, cancel));
  }

  #onAnswer(from: string, answer: AnswerMessage): void {
    const { legs, announcer } = this.#parts;
    // Unknown: answered after we forgot the invitation. Acknowledge so the invitee stops resending.
    if (!legs.has(answer.invitationID)) return this.#acknowledge(from, answer, { rejected: 'expired' });
    const leg = legs.get(answer.invitationID, from);
    if (leg?.role !== 'inviter') return this.#violation(from, `${answer.kind} of "${answer.invitationID}" from a peer that was not invited`);
    const result = transition(leg, { type: 'answer-received', answer: answer.kind }, this.#now());
    if (!result.ok) return this.#acknowledgeWhenSaved(from, answer, { rejected: rejectionOf(result.code) });
    const saved = this.#parts.commit([result.leg]);
    // The answer overtook the invite's ack (sent once the invitee saved it): the invite did arrive.
    if (leg.state === 'queued') announcer.inviteeState({ ...leg, state: 'delivered' });
    announcer.answered(result.leg, answer.kind, answer.data);
    announcer.inviteeState(result.leg);
    void saved.then(() => this.#acknowledge(from, answer));
  }

  /** Runs a state-machine event on one leg and commits the change, if any. */
  #apply(invitationID: string, peer: string, event: LegEvent): void {
    const leg = this.#parts.legs.get(invitationID, peer);
    if (!leg) return;
    const result = transition(leg, event, this.#now());
    if (!result.ok || !result.changed) return;
    void this.#parts.commit([result.leg]);
    if (leg.role === 'inviter' && result.leg.state !== leg.state) this.#parts.announcer.inviteeState(result.leg);
  }

  /** A repeat: its first copy may still be on its way to the store, and an ack must mean "stored". */
  #acknowledgeWhenSaved(to: string, message: InviteMessage | CancelMessage | AnswerMessage, outcome: AckOutcome = {}): void {
    void this.#parts.persistence.saved().then(() => this.#acknowledge(to, message, outcome));
  }

  #acknowledge(to: string, message: InviteMessage | CancelMessage | AnswerMessage, { rejected, refused }: AckOutcome = {}): void {
    const ack: AckMessage = { v: PROTOCOL_VERSION, kind: 'ack', of: message.kind, invitationID: message.invitationID };
    if (rejected) ack.rejected = rejected;
    if (refused) ack.refused = refused;
    try {
      this.#parts.transport.send(to, ack);
    } catch {
      // The connection is gone (or the session closed); the sender times out waiting and sends again, and we ack that.
    }
  }

  #violation(from: string, reason: string): void {
    this.#parts.transport.reportViolation({ peer: from, reason });
  }
}

/** What an ack may add: why an answer did not count, or why an invite was turned away. */
interface AckOutcome {
  rejected?: AnswerRejection | undefined;
  refused?: InviteRefusal;
}

/** Refusals remembered to answer repeats alike; the oldest are forgotten first. */
const REMEMBERED_REFUSALS = 1000;

function decisionKey(from: string, invitationID: string): string {
  return JSON.stringify([from, invitationID]);
}

/** What an invitee is told when its answer does not count; a repeated answer is simply acknowledged. */
function rejectionOf(code: InvitationErrorCode): AnswerRejection | undefined {
  if (code === 'EXPIRED') return 'expired';
  if (code === 'CANCELED') return 'canceled';
  return undefined;
}
