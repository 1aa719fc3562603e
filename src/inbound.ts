/**
 * What peers send: every frame is decoded, attributed to the connection it came
 * on, and run through the state machine. Acks go out only once what they
 * acknowledge is saved here: an ack means "stored", so a sender whose message
 * was lost before the write sends it again.
 */
import { InvitationError, type InvitationErrorCode } from './errors.js';
import type { Parts } from './parts.js';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  type AckMessage,
  type AnswerMessage,
  type AnswerRejection,
  type CancelMessage,
  type InviteMessage,
} from './protocol.js';
import { transition, type Leg, type LegEvent } from './state-machine.js';

export class Inbound {
  readonly #parts: Parts;

  constructor(parts: Parts) {
    this.#parts = parts;
  }

  #now(): number {
    return this.#parts.settings.clock.now();
  }

  receive(from: string, frame: unknown): void {
    const decoded = decodeMessage(frame);
    if (!decoded.ok) return this.#violation(from, decoded.reason);
    const message = decoded.message;
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
    // A rejection counts only for the answer we still owe (PROTOCOL.md): anything else is a plain ack.
    if (ack.rejected && leg?.role === 'invitee' && leg.outbox === ack.of) return this.#onAnswerRejected(leg, ack.rejected);
    this.#apply(ack.invitationID, from, { type: 'acked', of: ack.of });
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
    const { legs, deadlines, announcer } = this.#parts;
    if (legs.has(invite.invitationID)) {
      const leg = legs.get(invite.invitationID, from);
      // The same invite again (its ack was lost): acknowledge once the first copy is saved, announce nothing.
      if (leg?.role === 'invitee') return this.#acknowledgeWhenSaved(from, invite);
      return this.#violation(from, `invite reuses invitation id "${invite.invitationID}" that belongs to another conversation`);
    }
    // Already expired on the way: never ring, but stop the sender retrying.
    if (invite.remainingMs <= 0) return this.#acknowledge(from, invite);
    const leg = this.#receivedLeg(from, invite, {
      state: 'ringing',
      inviterName: invite.inviterName,
      type: invite.type,
      data: invite.data,
      ...(invite.notification ? { notification: invite.notification } : {}),
    });
    // Announced before the disk write is done; acked after it, so an unsaved invite is sent again.
    const saved = this.#parts.commit([leg]);
    deadlines.arm(leg.invitationID, leg.deadline);
    announcer.ring(leg, this.#now(), () => legs.get(leg.invitationID, from)?.state === 'ringing');
    void saved.then(() => this.#acknowledge(from, invite));
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
    if (!legs.has(answer.invitationID)) return this.#acknowledge(from, answer, 'expired');
    const leg = legs.get(answer.invitationID, from);
    if (leg?.role !== 'inviter') return this.#violation(from, `${answer.kind} of "${answer.invitationID}" from a peer that was not invited`);
    const result = transition(leg, { type: 'answer-received', answer: answer.kind }, this.#now());
    if (!result.ok) return this.#acknowledgeWhenSaved(from, answer, rejectionOf(result.code));
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
  #acknowledgeWhenSaved(to: string, message: InviteMessage | CancelMessage | AnswerMessage, rejected?: AnswerRejection): void {
    void this.#parts.persistence.saved().then(() => this.#acknowledge(to, message, rejected));
  }

  #acknowledge(to: string, message: InviteMessage | CancelMessage | AnswerMessage, rejected?: AnswerRejection): void {
    const ack: AckMessage = { v: PROTOCOL_VERSION, kind: 'ack', of: message.kind, invitationID: message.invitationID };
    if (rejected) ack.rejected = rejected;
    try {
      this.#parts.transport.send(to, ack);
    } catch {
      // The connection is gone (or the session closed); the sender times out waiting and sends again, and we ack that.
    }
  }

  #violation(from: string, reason: string): void {
    this.#parts.announcer.error(new InvitationError('PROTOCOL_VIOLATION', `Dropped a message from "${from}": ${reason}`));
  }
}

/** What an invitee is told when its answer does not count; a repeated answer is simply acknowledged. */
function rejectionOf(code: InvitationErrorCode): AnswerRejection | undefined {
  if (code === 'EXPIRED') return 'expired';
  if (code === 'CANCELED') return 'canceled';
  return undefined;
}
