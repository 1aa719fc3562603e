/**
 * What a plugin already told its app, by user: what rang, and the last state of
 * each invitee. A reconnect in the same page, or a tab that starts leading,
 * does not say it again. The one duplicate filter: the announcer and a
 * following tab's echo of its leader's events both go through it.
 */
import type { InviteeState } from '../api/types.js';

export class Told {
  readonly #rang = new Set<string>();
  readonly #states = new Map<string, InviteeState>();

  /** Records that an invitation rang for `userId`; false if it already had. */
  ring(userId: string, invitationID: string): boolean {
    const key = toldKey(userId, invitationID);
    if (this.#rang.has(key)) return false;
    this.#rang.add(key);
    return true;
  }

  /** Records the state of an invitee told to `userId`. */
  state(userId: string, invitationID: string, invitee: string, state: InviteeState): void {
    this.#states.set(toldKey(userId, invitationID, invitee), state);
  }

  /** Whether `state` is what `userId` last heard of that invitee. */
  hasState(userId: string, invitationID: string, invitee: string, state: string): boolean {
    return this.#states.get(toldKey(userId, invitationID, invitee)) === state;
  }

  /** The invitation is purged: nothing about it will be said again. */
  forget(userId: string, invitationID: string, invitee: string): void {
    this.#rang.delete(toldKey(userId, invitationID));
    this.#states.delete(toldKey(userId, invitationID, invitee));
  }
}

function toldKey(userId: string, invitationID: string, peer = ''): string {
  return JSON.stringify([userId, invitationID, peer]);
}
