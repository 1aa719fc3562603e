/** What a session does when Deadlines (deadlines.ts) says an invitation's time is up. */
import { transition, type Leg } from '../core/state-machine.js';
import type { SessionContext } from './context.js';

/** The deadline passed: every leg of the invitation ends, and the app hears it once. */
export function expire({ legs, announcer, settings, commit }: SessionContext, invitationID: string): void {
  const now = settings.clock.now();
  const changed: Leg[] = [];
  const timedOut: Leg[] = [];
  for (const leg of legs.of(invitationID)) {
    const result = transition(leg, { type: 'deadline' }, now);
    if (!result.ok || !result.changed) continue;
    const endsNow = result.leg.state === 'timeout' && leg.state !== 'timeout' && !leg.endTold;
    // Saved with the leg: a later page finds it told, and says only the state.
    const ended: Leg = endsNow ? { ...result.leg, endTold: true } : result.leg;
    changed.push(ended);
    if (endsNow) timedOut.push(ended);
  }
  if (changed.length === 0) return;
  void commit(changed);
  announcer.stopRinging(invitationID);
  announcer.responseTimedOut(invitationID, timedOut.filter((leg) => leg.role === 'inviter'));
  for (const leg of timedOut) if (leg.role === 'invitee') announcer.timedOut(leg);
}

/** Its retention passed too: forget it, in memory, on disk and in what was told. */
export function purge({ legs, persistence, announcer }: SessionContext, invitationID: string): void {
  const removed = legs.remove(invitationID);
  persistence.forget(removed);
  announcer.forget(removed);
}
