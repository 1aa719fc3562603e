/**
 * The context of one connected user's session: its user, the resolved options,
 * the table of legs and the services around it. session.ts builds one per
 * connected user; app-calls.ts (what the app asks) and inbound.ts (what peers
 * send) work on it.
 */
import type { Announcer } from './announcer.js';
import type { Deadlines } from './deadlines.js';
import type { Delivery } from './delivery.js';
import type { LegTable } from './legs.js';
import type { Persistence } from '../storage/persistence.js';
import type { Leg, LegEvent } from '../core/state-machine.js';
import type { Settings } from '../options.js';
import type { Transport } from '../transport/transport.js';
import type { User } from '../api/calls.js';
import type { Calls } from './calls/calls.js';

export interface SessionContext {
  readonly user: User;
  readonly settings: Settings;
  readonly legs: LegTable;
  readonly announcer: Announcer;
  readonly deadlines: Deadlines;
  readonly persistence: Persistence;
  readonly delivery: Delivery;
  readonly transport: Transport;
  /** Advanced mode's calls (calls/calls.ts). */
  readonly calls: Calls;
  /**
   * Puts legs in the table at once (so an app that answers or cancels from inside an
   * event handler sees them) and queues them for the store; settles once saved.
   */
  commit(legs: readonly Leg[]): Promise<void>;
  /** Runs a state-machine event on a leg; if it changed, commits it and returns the next leg. */
  advance(leg: Leg, event: LegEvent): Leg | undefined;
}
