/**
 * What the app asks of a connected session: send, cancel, accept, refuse. Each
 * checks its parameters (any value resolves, never throws), runs the state
 * machine, commits, kicks delivery and resolves once the change is saved.
 */
import type { AddInvitationResult, CallActionResult, CancelInvitationResult, JoinInvitationResult, RespondInvitationResult, SendInvitationResult } from '../api/calls.js';
import { InvitationError, type InvitationErrorCode } from '../errors.js';
import type { SessionContext } from './context.js';
import {
  MAX_INVITATION_ID_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_TIMEOUT_SECONDS,
  PROTOCOL_VERSION,
  SPEAKS_VERSION,
  encodedSize,
  invitationIDOf,
  type InviteMessage,
  type Message,
  type NotificationPayload,
  type OutgoingKind,
  type RingCall,
} from '../core/protocol.js';
import { withoutUndefined } from '../core/objects.js';
import { isAnswerable, refusalCode, transition, type Leg } from '../core/state-machine.js';
import { checkAnswer, checkCallData, checkCancel, checkInvitation, echoedInvitationID, echoedInvitees, type CheckedAnswer, type CheckedCancel } from '../core/validate.js';

/** The longest `remainingMs` a message can carry: what size checks assume. */
const MAX_REMAINING_MS = MAX_TIMEOUT_SECONDS * 1000;

export class AppCalls {
  readonly #context: SessionContext;

  constructor(context: SessionContext) {
    this.#context = context;
  }

  #now(): number {
    return this.#context.settings.clock.now();
  }

  /**
   * `made`: the invitation id's suffix, made by the tab that called (src/tabs); a call `retried`
   * after the leading tab changed finds its invitation already sent, and gets its id back.
   * `call`: a ring into a call (calls/calls.ts's `addInvitation`); `advancedMode` in `params` makes a new call.
   */
  async sendInvitation(params: unknown, made?: { suffix: string; retried: boolean }, call?: RingCall): Promise<SendInvitationResult> {
    const { user, settings, deadlines, delivery, announcer } = this.#context;
    const checked = checkInvitation(params, user.id);
    if (checked instanceof InvitationError) return { invitationID: '', errorInvitees: {}, error: checked };
    const { invitees, errorInvitees } = checked;
    if (invitees.length === 0) {
      const error = new InvitationError('EMPTY_INVITEES', 'No valid invitee remains once empty, invalid and self entries are removed');
      return { invitationID: '', errorInvitees, error };
    }
    const config = checked.notificationConfig;
    let notification: NotificationPayload | undefined;
    if (settings.notifyWhenAppIsInTheBackgroundOrQuit && config?.notifyWhenAppIsInTheBackgroundOrQuit) {
      notification = withoutUndefined<NotificationPayload>({ resourceID: config.resourceID, title: config.title, message: config.message });
    }
    if (made?.retried && this.#context.legs.has(invitationIDOf(user.id, made.suffix))) {
      return { invitationID: invitationIDOf(user.id, made.suffix), errorInvitees };
    }
    const invitationID = this.#newInvitationID(made?.suffix);
    if (invitationID instanceof InvitationError) return { invitationID: '', errorInvitees, error: invitationID };

    const creates = call === undefined && (params as { advancedMode?: unknown }).advancedMode === true;
    const ring = call ?? (creates ? { id: invitationID, members: [user.id] } : undefined);
    const now = this.#now();
    const invitationLegs: Leg[] = invitees.map((invitee) => ({
      invitationID,
      peer: invitee,
      role: 'inviter',
      state: 'queued',
      inviterName: checked.inviterName,
      type: checked.type,
      data: checked.data,
      ...(notification ? { notification } : {}),
      ...(ring ? { call: ring } : {}),
      createTime: now,
      deadline: now + checked.timeoutMs,
      outbox: 'invite',
      outboxData: '',
      wired: false,
    }));
    const tooLarge = checkEncodedSize(inviteMessage(invitationLegs[0]!, checked.timeoutMs));
    if (tooLarge) return { invitationID: '', errorInvitees, error: tooLarge };
    if (creates) {
      const full = this.#context.calls.created(invitationID, checked.type, checked.timeoutMs);
      if (full instanceof InvitationError) return { invitationID: '', errorInvitees, error: full };
    }

    const saved = this.#context.commit(invitationLegs);
    deadlines.arm(invitationID, now + checked.timeoutMs);
    for (const leg of invitationLegs) delivery.kick(leg.peer);
    for (const leg of invitationLegs) announcer.inviteeState(leg);
    await saved;
    return { invitationID, errorInvitees };
  }

  /** `<user id>:<what the app's generator made>`, checked: a bad suffix is the app's bug, reported as a failed send. */
  #newInvitationID(given?: string): string | InvitationError {
    let suffix: unknown = given;
    try {
      suffix ??= this.#context.settings.createInvitationID();
    } catch (error) {
      return new InvitationError('APP_CALLBACK_FAILED', 'createInvitationID threw', { cause: error });
    }
    const maxLength = MAX_INVITATION_ID_LENGTH - this.#context.user.id.length - 1;
    if (typeof suffix !== 'string' || suffix.length === 0 || suffix.length > maxLength) {
      return new InvitationError('APP_CALLBACK_FAILED', `createInvitationID must return 1 to ${maxLength} characters for this user; got ${JSON.stringify(suffix)}`);
    }
    const invitationID = invitationIDOf(this.#context.user.id, suffix);
    if (this.#context.legs.has(invitationID)) return new InvitationError('APP_CALLBACK_FAILED', `createInvitationID returned "${suffix}" twice`);
    return invitationID;
  }

  async cancelInvitation(params: unknown): Promise<CancelInvitationResult> {
    const checked = checkCancel(params);
    const invalid = checked instanceof InvitationError ? checked : checkEncodedSize(ownedMessage('cancel', checked.invitationID, checked.data));
    if (invalid) return { invitationID: echoedInvitationID(params), errorInvitees: echoedInvitees(params), error: invalid };
    const { invitationID, invitees, data } = checked as CheckedCancel;
    this.#context.deadlines.checkOne(invitationID);
    const mine = this.#context.legs.sent(invitationID);
    if (!mine) {
      const error = new InvitationError('NOT_FOUND', `No invitation "${invitationID}" was sent from here`);
      return { invitationID, errorInvitees: echoedInvitees(params), error };
    }
    const targets = invitees ?? [...mine.values()].filter((leg) => isAnswerable(leg.state)).map((leg) => leg.peer);
    const errorInvitees: string[] = [];
    const codes: InvitationErrorCode[] = [];
    const canceled: Leg[] = [];
    for (const invitee of new Set(targets)) {
      const leg = mine.get(invitee);
      const result = leg ? transition(leg, { type: 'cancel', data }, this.#now()) : ({ ok: false, code: 'NOT_FOUND' } as const);
      if (result.ok) canceled.push(result.leg);
      else {
        errorInvitees.push(invitee);
        codes.push(result.code);
      }
    }
    if (canceled.length === 0) {
      const [first] = mine.values();
      const code = codes[0] ?? (this.#now() >= first!.deadline ? 'EXPIRED' : refusalCode(first!.state));
      return { invitationID, errorInvitees, error: new InvitationError(code, `Nothing left to cancel in "${invitationID}"`) };
    }
    const saved = this.#context.commit(canceled);
    for (const leg of canceled) {
      if (leg.outbox) this.#context.delivery.kick(leg.peer);
      this.#context.announcer.inviteeState(leg);
    }
    await saved;
    return { invitationID, errorInvitees };
  }

  async respond(params: unknown, answer: 'accept' | 'refuse'): Promise<RespondInvitationResult> {
    const checked = checkAnswer(params);
    const invalid = checked instanceof InvitationError ? checked : checkEncodedSize(ownedMessage(answer, checked.invitationID, checked.data));
    if (invalid) return { invitationID: echoedInvitationID(params), error: invalid };
    const { invitationID, data } = checked as CheckedAnswer;
    // An invitation past its deadline ends (and the app hears so) before an answer is refused as EXPIRED.
    this.#context.deadlines.checkOne(invitationID);
    const leg = this.#context.legs.received(invitationID);
    if (!leg) return { invitationID, error: new InvitationError('NOT_FOUND', `No invitation "${invitationID}" was received here`) };
    // An answer to a call's ring is the member's row: its data must fit one.
    const tooLong = leg.call ? checkCallData(data) : undefined;
    if (tooLong) return { invitationID, error: tooLong };
    const result = transition(leg, { type: 'answer', answer, data }, this.#now());
    if (!result.ok) return { invitationID, error: new InvitationError(result.code, refusalMessage(result.code, invitationID)) };
    const saved = this.#context.commit([result.leg]);
    this.#context.delivery.kick(leg.peer);
    this.#context.announcer.stopRinging(invitationID);
    await saved;
    return { invitationID };
  }

  /** Advanced mode: calls/calls.ts does the work. */
  addInvitation(params: unknown): Promise<AddInvitationResult> {
    return this.#context.calls.add(params);
  }

  joinInvitation(params: unknown): Promise<JoinInvitationResult> {
    return this.#context.calls.join(params);
  }

  quitInvitation(params: unknown): Promise<CallActionResult> {
    return this.#context.calls.quit(params);
  }

  endInvitation(params: unknown): Promise<CallActionResult> {
    return this.#context.calls.end(params);
  }
}

export function inviteMessage(leg: Leg, remainingMs: number): InviteMessage {
  const message: InviteMessage = {
    v: PROTOCOL_VERSION,
    kind: 'invite',
    invitationID: leg.invitationID,
    inviterName: leg.inviterName,
    type: leg.type,
    data: leg.data,
    remainingMs,
    speaks: SPEAKS_VERSION,
  };
  if (leg.notification) message.notification = leg.notification;
  if (leg.call) message.call = leg.call;
  return message;
}

/** The message a leg owes its peer, with the time it has left. */
export function composeOwed(leg: Leg, kind: OutgoingKind, remainingMs: number): Message {
  if (kind === 'invite') return inviteMessage(leg, remainingMs);
  return ownedMessage(kind, leg.invitationID, leg.outboxData, remainingMs);
}

function ownedMessage(kind: Exclude<OutgoingKind, 'invite'>, invitationID: string, data: string, remainingMs = MAX_REMAINING_MS): Message {
  return { v: PROTOCOL_VERSION, kind, invitationID, data, remainingMs };
}

/** JSON escaping can grow `data` past what PeerJS's channel takes: refuse rather than fail later. */
function checkEncodedSize(message: Message): InvitationError | undefined {
  const size = encodedSize(message);
  if (size <= MAX_MESSAGE_BYTES) return undefined;
  return new InvitationError('DATA_TOO_LARGE', `The ${message.kind} encodes to ${size} bytes, over the ${MAX_MESSAGE_BYTES} a message may take`);
}

function refusalMessage(code: InvitationErrorCode, invitationID: string): string {
  switch (code) {
    case 'ALREADY_RESPONDED':
      return `Invitation "${invitationID}" was already answered`;
    case 'CANCELED':
      return `Invitation "${invitationID}" was canceled by its inviter`;
    case 'EXPIRED':
      return `Invitation "${invitationID}" has expired`;
    default:
      return `Invitation "${invitationID}" cannot be answered (${code})`;
  }
}
