/**
 * The legs of one session in memory, and what is owed to whom: the table every
 * other part reads. Changes go through `set`; writing them to the store is
 * persistence.ts's job.
 */
import { utf8Length } from '../core/protocol.js';
import { isAnswerable, type Leg } from '../core/state-machine.js';

export class LegTable {
  /** Legs by invitation id, then by peer. */
  readonly #byInvitation = new Map<string, Map<string, Leg>>();
  /** Peers owed a message, and by which invitations: what Delivery asks for. */
  readonly #owedByPeer = new Map<string, Set<string>>();
  /** Of the invitations received, how many from each inviter ring, and how many were canceled: what the per-inviter limits count. */
  readonly #ringingFrom = new Map<string, number>();
  readonly #canceledFrom = new Map<string, number>();
  /** Bytes of the texts held, for `maxStoredBytes`. */
  #bytes = 0;

  get(invitationID: string, peer: string): Leg | undefined {
    return this.#byInvitation.get(invitationID)?.get(peer);
  }

  /** Every leg of one invitation: one per invitee here if we sent it, one (the inviter) if we received it. */
  of(invitationID: string): Leg[] {
    return [...(this.#byInvitation.get(invitationID)?.values() ?? [])];
  }

  has(invitationID: string): boolean {
    return this.#byInvitation.has(invitationID);
  }

  /** Our leg of an invitation we received, if any. */
  received(invitationID: string): Leg | undefined {
    return this.of(invitationID).find((leg) => leg.role === 'invitee');
  }

  /** The legs of an invitation we sent, if it is one. */
  sent(invitationID: string): Map<string, Leg> | undefined {
    const legs = this.#byInvitation.get(invitationID);
    return legs && [...legs.values()].every((leg) => leg.role === 'inviter') ? legs : undefined;
  }

  set(leg: Leg): void {
    let legs = this.#byInvitation.get(leg.invitationID);
    if (!legs) this.#byInvitation.set(leg.invitationID, (legs = new Map()));
    const previous = legs.get(leg.peer);
    this.#bytes += textBytes(leg) - (previous ? textBytes(previous) : 0);
    legs.set(leg.peer, leg);
    this.#count(previous, -1);
    this.#count(leg, +1);
    let owed = this.#owedByPeer.get(leg.peer);
    if (leg.outbox) {
      if (!owed) this.#owedByPeer.set(leg.peer, (owed = new Set()));
      owed.add(leg.invitationID);
    } else if (owed?.delete(leg.invitationID) && owed.size === 0) {
      this.#owedByPeer.delete(leg.peer);
    }
  }

  /** Removes an invitation and returns its legs. */
  remove(invitationID: string): Leg[] {
    const legs = this.of(invitationID);
    for (const leg of legs) {
      this.set({ ...leg, outbox: null });
      this.#bytes -= textBytes(leg);
      this.#count(leg, -1);
    }
    this.#byInvitation.delete(invitationID);
    return legs;
  }

  /** How many invitations from `inviter` ring here now. */
  ringingFrom(inviter: string): number {
    return this.#ringingFrom.get(inviter) ?? 0;
  }

  /** How many invitations from `inviter` ended canceled here (or were canceled before they came), still held. */
  canceledFrom(inviter: string): number {
    return this.#canceledFrom.get(inviter) ?? 0;
  }

  #count(leg: Leg | undefined, delta: 1 | -1): void {
    if (leg?.role !== 'invitee') return;
    const counts = leg.state === 'ringing' ? this.#ringingFrom : leg.state === 'canceled' ? this.#canceledFrom : undefined;
    if (!counts) return;
    const count = (counts.get(leg.peer) ?? 0) + delta;
    if (count > 0) counts.set(leg.peer, count);
    else counts.delete(leg.peer);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Legs that owe `peer` a message. */
  owedTo(peer: string): Leg[] {
    const owed: Leg[] = [];
    for (const invitationID of this.#owedByPeer.get(peer) ?? []) {
      const leg = this.get(invitationID, peer);
      if (leg) owed.push(leg);
    }
    return owed;
  }

  /** Peers we owe something, and peers of live invitations (who may owe us something). */
  peersToGreet(now: number): { owed: Set<string>; live: Set<string> } {
    const owed = new Set(this.#owedByPeer.keys());
    const live = new Set<string>();
    for (const leg of this.all()) if (leg.deadline > now && isAnswerable(leg.state) && !owed.has(leg.peer)) live.add(leg.peer);
    return { owed, live };
  }

  *all(): IterableIterator<Leg> {
    for (const legs of this.#byInvitation.values()) yield* legs.values();
  }

  get invitationCount(): number {
    return this.#byInvitation.size;
  }

  get owedCount(): number {
    let count = 0;
    for (const owed of this.#owedByPeer.values()) count += owed.size;
    return count;
  }
}

/** The texts a leg holds, as `maxStoredBytes` counts them. */
export function textBytes(leg: Pick<Leg, 'data' | 'inviterName' | 'outboxData' | 'notification'>): number {
  const { resourceID = '', title = '', message = '' } = leg.notification ?? {};
  return [leg.data, leg.inviterName, leg.outboxData, resourceID, title, message].reduce((sum, text) => sum + utf8Length(text), 0);
}
