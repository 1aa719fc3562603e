/**
 * The composition root of a session: builds its collaborators from the
 * resolved options and an open store, wires them, and registers the teardown
 * of each where it is acquired. The store's own teardown (the last flush) is
 * `context.persistence.close()`, which the session runs after the rest.
 */
import { Subscription } from 'rxjs';
import type { User } from '../api/calls.js';
import type { Settings } from '../options.js';
import { Persistence } from '../storage/persistence.js';
import type { InvitationStore } from '../storage/store.js';
import { transition } from '../core/state-machine.js';
import { Announcer, type Outlets } from './announcer.js';
import { AppCalls } from './app-calls.js';
import type { SessionContext } from './context.js';
import { Deadlines } from './deadlines.js';
import { Delivery } from './delivery.js';
import { expire, purge } from './endings.js';
import { Inbound } from './inbound.js';
import { LegTable } from './legs.js';
import { owedMessages } from './owed.js';
import { Calls } from './calls/calls.js';

export interface Composed {
  context: SessionContext;
  calls: AppCalls;
  /** Stops every collaborator but the store. */
  lifetime: Subscription;
}

export function composeSession(user: User, settings: Settings, outlets: Outlets, store: InvitationStore | undefined, reportStorageFailure: (error: unknown) => void): Composed {
  const { delivery: deliveryOptions, scheduler, clock } = settings;
  const lifetime = new Subscription();
  const legs = new LegTable();
  const announcer = new Announcer(outlets, settings.notify, user.id);
  lifetime.add(() => announcer.close());
  // Built before the context it reads: Delivery asks it what calls owe from the first flush on, Persistence what to rewrite.
  let calls!: Calls;
  const persistence = new Persistence(store, { legs: () => [...legs.all()], calls: () => calls.snapshot() }, reportStorageFailure);
  const deadlines = new Deadlines(clock, scheduler, deliveryOptions.retentionMs, {
    expire: (invitationID) => expire(context, invitationID),
    purge: (invitationID) => purge(context, invitationID),
  });
  lifetime.add(() => deadlines.close());
  const transport = settings.createTransport({ id: user.id, peer: settings.peer, delivery: deliveryOptions, limits: settings.limits, scheduler, clock });
  lifetime.add(() => transport.close());
  const delivery = new Delivery(transport, owedMessages(legs, clock, () => calls), deliveryOptions, scheduler, clock);
  lifetime.add(() => delivery.close());
  const context: SessionContext = {
    user,
    settings,
    legs,
    announcer,
    deadlines,
    persistence,
    delivery,
    transport,
    get calls() {
      return calls;
    },
    commit(changed) {
      for (const leg of changed) {
        const before = legs.get(leg.invitationID, leg.peer);
        legs.set(leg);
        if (leg.call) calls.legChanged(before, leg);
      }
      return persistence.save(changed);
    },
    advance(leg, event) {
      const result = transition(leg, event, clock.now());
      if (!result.ok || !result.changed) return undefined;
      void context.commit([result.leg]);
      return result.leg;
    },
  };
  calls = new Calls(context);
  lifetime.add(() => calls.close());
  const inbound = new Inbound(context);
  lifetime.add(() => inbound.close());
  lifetime.add(transport.frames$.subscribe(({ from, frame }) => inbound.receive(from, frame)));
  lifetime.add(transport.errors$.subscribe((error) => announcer.error(error)));
  lifetime.add(transport.unreachable$.subscribe(({ peer, reason }) => announcer.unreachable(legs.owedTo(peer), peer, reason)));
  const appCalls = new AppCalls(context);
  calls.attach(appCalls);
  return { context, calls: appCalls, lifetime };
}
