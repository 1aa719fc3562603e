/**
 * What a session finds in the store when it starts, and tells the app of it:
 * the legs an earlier page kept, as this page's clock sees them.
 */
import type { InvitationReceivedEvent } from '../api/events.js';
import { MAX_TIMEOUT_SECONDS } from '../core/protocol.js';
import { isAnswerable, type Leg } from '../core/state-machine.js';
import type { Settings } from '../options.js';
import type { InvitationStore, StoredCall } from '../storage/store.js';
import type { SessionContext } from './context.js';

export interface Restored {
  legs: Leg[];
  /** Advanced-mode calls (a store without `loadCalls` keeps none). */
  calls: StoredCall[];
}

/** Opens the store and loads what it kept; on failure, reports it and goes on without one. */
export async function openStore(settings: Settings, userId: string, reportFailure: (error: unknown) => void): Promise<{ store: InvitationStore | undefined; restored: Restored }> {
  let store: InvitationStore | undefined;
  try {
    store = await settings.openStore(settings.databaseName(userId), userId);
    const now = settings.clock.now();
    const kept = await store.load(now - settings.delivery.retentionMs);
    const calls = (await store.loadCalls?.(now)) ?? [];
    return { store, restored: { legs: kept.map((leg) => believable(leg, settings.clock.now())), calls } };
  } catch (error) {
    store?.close();
    reportFailure(error);
    return { store: undefined, restored: { legs: [], calls: [] } };
  }
}

/**
 * A leg from an earlier page, as this page's clock sees it. If the wall clock was set
 * back since, its deadline looks further away than it was: never more than its timeout.
 */
function believable(leg: Leg, now: number): Leg {
  const timeoutMs = Math.min(leg.deadline - leg.createTime, MAX_TIMEOUT_SECONDS * 1000);
  if (leg.deadline - now <= timeoutMs) return leg;
  return { ...leg, createTime: now, deadline: now + timeoutMs };
}

/** Puts restored legs in the table and calls in Calls, before the transport opens. */
export function holdRestored({ legs, calls }: SessionContext, restored: Restored): void {
  // A queued invite may have been written before the page went away: count it as wired, so a
  // cancel follows it (a cancel for an invite that never arrived is harmless).
  for (const leg of restored.legs) legs.set(leg.state === 'queued' ? { ...leg, wired: true } : leg);
  calls.hold(restored.calls);
}

/** Re-arms deadlines and tells the app what it held before the reload (once per plugin). */
export function restore(context: SessionContext, { legs: restored }: Restored): void {
  const { legs, deadlines, announcer, settings } = context;
  context.calls.restored();
  for (const leg of restored) deadlines.arm(leg.invitationID, leg.deadline);
  const now = settings.clock.now();
  for (const { invitationID, peer } of restored) {
    const leg = legs.get(invitationID, peer);
    // An earlier page (or this one, just now) told how it ended: this page's app hears the state, never the event again.
    if (leg?.role === 'inviter' && leg.endTold) announcer.inviteeStateIfNew(leg);
    if (!leg || leg.deadline <= now) continue;
    if (leg.role === 'invitee' && leg.state === 'ringing') announcer.ring(leg, now, () => legs.get(invitationID, peer)?.state === 'ringing');
    if (leg.role === 'inviter' && isAnswerable(leg.state)) announcer.inviteeStateIfNew(leg);
  }
}

/** What rings here now, as `invitationReceived$` said it: for a tab that joins (src/tabs). */
export function ringing({ legs, announcer, settings }: SessionContext): InvitationReceivedEvent[] {
  const now = settings.clock.now();
  return [...legs.all()].filter((leg) => leg.role === 'invitee' && leg.state === 'ringing' && leg.deadline > now).map((leg) => announcer.receivedEvent(leg, now));
}
