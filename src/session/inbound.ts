/**
 * What peers send: every frame is decoded, attributed to the connection it came
 * on, and run through the state machine. Acks go out only once what they
 * acknowledge is saved here: an ack means "stored", so a sender whose message
 * was lost before the write sends it again. Whether a new invitation may ring
 * is admission.ts's to say.
 */
import type { InvitationErrorCode } from '../errors.js';
import type { SessionContext } from './context.js';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  type AckMessage,
  type AnswerMessage,
  type AnswerRejection,
  type CancelMessage,
  type InviteMessage,
  isInvitationOf,
} from '../core/protocol.js';
import type { RefusalReason } from '../api/types.js';
import { transition, type Leg } from '../core/state-machine.js';
import { Admission, type Verdict } from './admission.js';

export class Inbound {
  readonly #context: SessionContext;
  readonly #admission: Admission;

  constructor(context: SessionContext) {
    this.#context = context;
    this.#admission = new Admission(context);
  }

  #now(): number {
    return this.#context.settings.clock.now();
  }

  /** Decisions still pending when the session ends come to nothing. */
  close(): void {
    this.#admission.close();
  }

  receive(from: string, frame: unknown): void {
    // Frames already read from a peer that was just cut off are dropped too.
    if (this.#context.transport.isBanned(from)) return;
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
      case 'call':
        return this.#context.calls.receive(from, message);
      case 'hello':
      case 'ping':
        // Hello only opened the connection, which already made Delivery retry.
        return;
    }
  }

  #onAck(from: string, ack: AckMessage): void {
    this.#context.delivery.acked(from, ack);
    if (ack.of === 'call') return this.#context.calls.acked(from, ack);
    const leg = this.#context.legs.get(ack.invitationID, from);
    if (!leg) return;
    const { announcer } = this.#context;
    // A rejection or refusal counts only for the message we still owe (PROTOCOL.md): anything else is a plain ack.
    if (ack.rejected && leg.role === 'invitee' && leg.outbox === ack.of) {
      // Our answer came too late to count: end the invitation here as the inviter saw it end.
      const ended = this.#context.advance(leg, { type: 'answer-rejected', reason: ack.rejected });
      if (ended?.state === 'canceled') announcer.canceled(ended, '');
      else if (ended) announcer.timedOut(ended);
      return;
    }
    if (ack.refused && leg.role === 'inviter' && leg.outbox === 'invite') {
      // The invitee's plugin turned our invite away unseen: as a refusal, with the reason.
      const refused = this.#context.advance(leg, { type: 'invite-refused' });
      if (refused) announcer.refusedUnseen(refused, ack.refused);
      return;
    }
    const next = this.#context.advance(leg, { type: 'acked', of: ack.of });
    if (next && leg.role === 'inviter' && next.state !== leg.state) announcer.inviteeState(next);
  }

  #onInvite(from: string, invite: InviteMessage): void {
    // The same invite again (its ack was lost): acknowledge once the first copy is saved, announce nothing.
    if (this.#context.legs.get(invite.invitationID, from)) return this.#acknowledgeWhenSaved(from, invite);
    const earlier = this.#admission.earlier(from, invite.invitationID);
    // Still being decided (the app's shouldRing): the sender's retry will find the decision made.
    if (earlier === 'deciding') return;
    if (earlier) return this.#acknowledge(from, invite, { refused: earlier });
    // Already expired on the way: never ring, but stop the sender retrying.
    if (invite.remainingMs <= 0) return this.#acknowledge(from, invite);
    const leg = this.#receivedLeg(from, invite, {
      state: 'ringing',
      inviterName: invite.inviterName,
      type: invite.type,
      data: invite.data,
      ...(invite.notification ? { notification: invite.notification } : {}),
      ...(invite.call ? { call: invite.call } : {}),
    });
    const verdict = this.#admission.admit(leg, invite.speaks);
    if (verdict instanceof Promise) void verdict.then((decided) => this.#onVerdict(from, invite, decided));
    else this.#onVerdict(from, invite, verdict);
  }

  #onVerdict(from: string, invite: InviteMessage, verdict: Verdict): void {
    if (verdict === 'closed') return;
    if (verdict === 'overtaken') return this.#acknowledgeWhenSaved(from, invite);
    if (verdict === 'expired') return this.#acknowledge(from, invite);
    if ('refuse' in verdict) {
      if (verdict.violation) this.#violation(from, verdict.violation);
      this.#context.calls.ringRefused(from, invite);
      return this.#acknowledge(from, invite, { refused: verdict.refuse });
    }
    // Announced before the disk write is done; acked after it, so an unsaved invite is sent again.
    const leg = verdict.ring;
    const { legs, deadlines, announcer } = this.#context;
    this.#commitThenAck(from, invite, [leg], () => {
      deadlines.arm(leg.invitationID, leg.deadline);
      announcer.ring(leg, this.#now(), () => legs.get(leg.invitationID, from)?.state === 'ringing');
    });
  }

  /** An invitee leg for a message from its inviter: the deadline is our clock plus the time it had left. */
  #receivedLeg(from: string, message: InviteMessage | CancelMessage, fields: Pick<Leg, 'state' | 'inviterName' | 'type' | 'data' | 'notification' | 'call'>): Leg {
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
    const { legs, deadlines, announcer } = this.#context;
    const leg = legs.get(cancel.invitationID, from);
    if (legs.has(cancel.invitationID) && leg?.role !== 'invitee') {
      return this.#violation(from, `cancel of "${cancel.invitationID}" from a peer that is not its inviter`);
    }
    if (!leg) {
      // The cancel overtook its invite: remember it, so the invite is dropped when it comes.
      if (cancel.remainingMs <= 0) return this.#acknowledge(from, cancel);
      const { maxUnknownCancelsPerPeer } = this.#context.settings.limits;
      if (legs.canceledFrom(from) >= maxUnknownCancelsPerPeer) {
        this.#violation(from, `more than ${maxUnknownCancelsPerPeer} cancels for invitations not seen here`);
        return this.#acknowledge(from, cancel);
      }
      const tombstone = this.#receivedLeg(from, cancel, { state: 'canceled', inviterName: '', type: 0, data: '' });
      deadlines.arm(tombstone.invitationID, tombstone.deadline);
      return this.#commitThenAck(from, cancel, [tombstone]);
    }
    const result = transition(leg, { type: 'cancel-received' }, this.#now());
    if (!result.ok) return this.#acknowledgeWhenSaved(from, cancel);
    this.#commitThenAck(from, cancel, [result.leg], () => announcer.canceled(result.leg, cancel.data));
  }

  #onAnswer(from: string, answer: AnswerMessage): void {
    const { legs, announcer } = this.#context;
    // Unknown: answered after we forgot the invitation. Acknowledge so the invitee stops resending.
    if (!legs.has(answer.invitationID)) return this.#acknowledge(from, answer, { rejected: 'expired' });
    const leg = legs.get(answer.invitationID, from);
    if (leg?.role !== 'inviter') return this.#violation(from, `${answer.kind} of "${answer.invitationID}" from a peer that was not invited`);
    const result = transition(leg, { type: 'answer-received', answer: answer.kind }, this.#now());
    if (!result.ok) return this.#acknowledgeWhenSaved(from, answer, { rejected: rejectionOf(result.code) });
    this.#commitThenAck(from, answer, [result.leg], () => {
      // The answer overtook the invite's ack (sent once the invitee saved it): the invite did arrive.
      if (leg.state === 'queued') announcer.inviteeState({ ...leg, state: 'delivered' });
      announcer.answered(result.leg, answer.kind, answer.data);
      announcer.inviteeState(result.leg);
    });
  }

  /**
   * Commits what a message changed and announces it at once (an app that answers from its
   * handler sees the change); acks once it is saved, since an ack means "stored".
   */
  #commitThenAck(to: string, message: InviteMessage | CancelMessage | AnswerMessage, changed: Leg[], announce?: () => void): void {
    const saved = this.#context.commit(changed);
    announce?.();
    void saved.then(() => this.#acknowledge(to, message));
  }

  /** A repeat: its first copy may still be on its way to the store, and an ack must mean "stored". */
  #acknowledgeWhenSaved(to: string, message: InviteMessage | CancelMessage | AnswerMessage, outcome: AckOutcome = {}): void {
    void this.#context.persistence.saved().then(() => this.#acknowledge(to, message, outcome));
  }

  #acknowledge(to: string, message: InviteMessage | CancelMessage | AnswerMessage, { rejected, refused }: AckOutcome = {}): void {
    const ack: AckMessage = { v: PROTOCOL_VERSION, kind: 'ack', of: message.kind, invitationID: message.invitationID };
    if (rejected) ack.rejected = rejected;
    if (refused) ack.refused = refused;
    try {
      this.#context.transport.send(to, ack);
    } catch {
      // The connection is gone (or the session closed); the sender times out waiting and sends again, and we ack that.
    }
  }

  #violation(from: string, reason: string): void {
    this.#context.transport.reportViolation({ peer: from, reason });
  }
}

/** What an ack may add: why an answer did not count, or why an invite was turned away. */
interface AckOutcome {
  rejected?: AnswerRejection | undefined;
  refused?: RefusalReason;
}

/** What an invitee is told when its answer does not count; a repeated answer is simply acknowledged. */
function rejectionOf(code: InvitationErrorCode): AnswerRejection | undefined {
  if (code === 'EXPIRED') return 'expired';
  if (code === 'CANCELED') return 'canceled';
  return undefined;
}
