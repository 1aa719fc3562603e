/**
 * Whether a new invitation may ring here: the limits on what peers may make
 * this plugin hold, the app's `shouldRing`, and the refusals remembered so a
 * repeat is refused alike, unasked and unstored. Inbound (the dispatcher) asks;
 * it answers with a verdict, at once where it can.
 */
import { InvitationError } from '../errors.js';
import type { RefusalReason } from '../api/types.js';
import { limitRefusal } from '../core/protocol.js';
import type { Leg } from '../core/state-machine.js';
import type { SessionContext } from './context.js';
import { textBytes } from './legs.js';

export type Verdict =
  /** Ring it: the leg as admitted (a decision that took time counts its creation from the decision). */
  | { ring: Leg }
  /** Refuse it on the wire; `violation`: what limit the inviter broke, to report. */
  | { refuse: RefusalReason; violation?: string }
  /** Expired while the app decided: stop the sender retrying, ring nothing. */
  | 'expired'
  /** A cancel overtook it while the app decided: it never rings. */
  | 'overtaken'
  /** The session ended while the app decided. */
  | 'closed';

/** Refusals remembered to answer repeats alike; the oldest are forgotten first. */
const REMEMBERED_REFUSALS = 1000;

export class Admission {
  readonly #context: SessionContext;
  /** Invites waiting for the app's `shouldRing`. */
  readonly #deciding = new Set<string>();
  /** Invites turned away, and why. */
  readonly #refused = new Map<string, RefusalReason>();
  #closed = false;

  constructor(context: SessionContext) {
    this.#context = context;
  }

  /** What an invite of `from` already met: a decision still pending, or a refusal to repeat. */
  earlier(from: string, invitationID: string): 'deciding' | RefusalReason | undefined {
    const key = decisionKey(from, invitationID);
    return this.#deciding.has(key) ? 'deciding' : this.#refused.get(key);
  }

  /**
   * The verdict on a new invitation: at once, unless the app's `shouldRing` has to decide.
   * `speaks`: the highest protocol version the inviter said it reads (over a limit, v3 hears `overloaded`).
   */
  admit(leg: Leg, speaks: number | undefined): Verdict | Promise<Verdict> {
    const overLimit = this.#overLimit(leg);
    if (overLimit) return this.#refuse(leg, limitRefusal(speaks), overLimit);
    const shouldRing = this.#context.settings.shouldRing;
    if (!shouldRing) return { ring: leg };
    const key = decisionKey(leg.peer, leg.invitationID);
    this.#deciding.add(key);
    return this.#ask(shouldRing, leg).then((allowed) => {
      this.#deciding.delete(key);
      return this.#decided(leg, allowed, speaks);
    });
  }

  #decided(leg: Leg, allowed: boolean | 'busy', speaks: number | undefined): Verdict {
    if (this.#closed) return 'closed';
    if (this.#context.legs.has(leg.invitationID)) return 'overtaken';
    if (allowed !== true) return this.#refuse(leg, allowed === 'busy' ? 'busy' : 'blocked');
    // Time passed while the app decided: the invitation keeps its deadline, and the limits are checked again.
    const decided = { ...leg, createTime: this.#context.settings.clock.now() };
    if (decided.deadline <= decided.createTime) return 'expired';
    const stillOver = this.#overLimit(decided);
    return stillOver ? this.#refuse(decided, limitRefusal(speaks), stillOver) : { ring: decided };
  }

  /** Why a new invitation may not be held, if it may not. */
  #overLimit(leg: Leg): string | undefined {
    const { legs, settings } = this.#context;
    const limits = settings.limits;
    if (legs.ringingFrom(leg.peer) >= limits.maxLiveInvitationsPerInviter) return `more than ${limits.maxLiveInvitationsPerInviter} invitations ringing at once from one inviter`;
    if (legs.invitationCount >= limits.maxStoredInvitations) return `over the ${limits.maxStoredInvitations} invitations this plugin holds`;
    if (legs.bytes + textBytes(leg) > limits.maxStoredBytes) return `over the ${limits.maxStoredBytes} bytes this plugin holds`;
    return undefined;
  }

  /** Remembers a refusal, so a repeat gets the same answer without asking again. */
  #refuse(leg: Leg, reason: RefusalReason, violation?: string): Verdict {
    this.#refused.set(decisionKey(leg.peer, leg.invitationID), reason);
    while (this.#refused.size > REMEMBERED_REFUSALS) this.#refused.delete(this.#refused.keys().next().value!);
    return violation ? { refuse: reason, violation } : { refuse: reason };
  }

  /** The app's `shouldRing`, contained: one that throws or rejects is reported, and the invitation rings. */
  async #ask(shouldRing: NonNullable<SessionContext['settings']['shouldRing']>, leg: Leg): Promise<boolean | 'busy'> {
    const { announcer, settings } = this.#context;
    try {
      const verdict = await shouldRing(announcer.receivedEvent(leg, settings.clock.now()));
      return verdict === 'busy' ? verdict : verdict !== false;
    } catch (error) {
      announcer.error(new InvitationError('APP_CALLBACK_FAILED', "The app's shouldRing callback threw; the invitation rings", { cause: error }));
      return true;
    }
  }

  /** Decisions still pending when the session ends come to nothing. */
  close(): void {
    this.#closed = true;
  }
}

function decisionKey(from: string, invitationID: string): string {
  return JSON.stringify([from, invitationID]);
}
