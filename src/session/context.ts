/**
 * What the rooms of a session share: the table of legs and the services around
 * it. session.ts builds one `Parts` per connected user; app-calls.ts (what the
 * app asks) and inbound.ts (what peers send) work on it.
 */
import type { SchedulerLike } from 'rxjs';
import type { Announcer, Notify } from './announcer.js';
import type { SignalingPluginOptions } from '../api/plugin-api.js';
import type { Clock } from '../core/clock.js';
import type { Deadlines } from './deadlines.js';
import type { Delivery } from './delivery.js';
import type { LegTable } from './legs.js';
import type { Persistence } from '../storage/persistence.js';
import type { Leg } from '../core/state-machine.js';
import type { OpenStore } from '../storage/store.js';
import type { Transport, TransportFactory } from '../transport/transport.js';
import type { InvitationReceivedEvent, ResolvedDeliveryOptions, ResolvedLimitOptions, User } from '../api/types.js';

/** The plugin's options, resolved once by the facade. */
export interface Settings {
  options: SignalingPluginOptions;
  delivery: ResolvedDeliveryOptions;
  scheduler: SchedulerLike;
  clock: Clock;
  openStore: OpenStore;
  createTransport: TransportFactory;
  createInvitationID: () => string;
  notify: Notify;
  limits: ResolvedLimitOptions;
  /** The app's `shouldRing`, with `refuseWhenBusy` before it: `'busy'` refuses as busy. */
  shouldRing: ((invitation: InvitationReceivedEvent) => boolean | 'busy' | Promise<boolean | 'busy'>) | undefined;
}

export interface Parts {
  readonly user: User;
  readonly settings: Settings;
  readonly legs: LegTable;
  readonly announcer: Announcer;
  readonly deadlines: Deadlines;
  readonly persistence: Persistence;
  readonly delivery: Delivery;
  readonly transport: Transport;
  /**
   * Puts legs in the table at once (so an app that answers or cancels from inside an
   * event handler sees them) and queues them for the store; settles once saved.
   */
  commit(legs: readonly Leg[]): Promise<void>;
}
