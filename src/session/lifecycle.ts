/**
 * One connected user in this tab, from `connectUser` to `disconnectUser`: opens
 * the store, has the session composed (compose.ts), restores what the store
 * kept (restore.ts), greets peers after each (re)connection, and tears
 * everything down once, the last flush to disk whatever else fails. What the
 * app asks is in app-calls.ts, what peers send in inbound.ts, what deadlines
 * do in endings.ts.
 */
import { Subscription } from 'rxjs';
import type { PluginStats, User } from '../api/calls.js';
import type { InvitationReceivedEvent } from '../api/events.js';
import { InvitationError } from '../errors.js';
import type { Settings } from '../options.js';
import type { Outlets } from './announcer.js';
import type { AppCalls } from './app-calls.js';
import { composeSession } from './compose.js';
import type { SessionContext } from './context.js';
import { holdRestored, openStore, restore, ringing } from './restore.js';
import { idleStats } from './user-session.js';
import type { PushServerLink } from '../push/enable-push.js';

export class Session {
  readonly user: User;
  /** True once `start` resolved, until `close`. */
  started = false;
  #closed = false;
  /** Once the store is open, until `close`. */
  #running: { context: SessionContext; calls: AppCalls } | undefined;
  readonly #lifetime = new Subscription();

  readonly #settings: Settings;
  readonly #outlets: Outlets;

  constructor(user: User, settings: Settings, outlets: Outlets) {
    this.user = user;
    this.#settings = settings;
    this.#outlets = outlets;
  }

  /** The app's calls, once started. */
  get calls(): AppCalls | undefined {
    return this.started ? this.#running?.calls : undefined;
  }

  async start(): Promise<void> {
    this.#outlets.connectionState.connecting();
    const reportStorageFailure = (error: unknown) => this.#reportStorageFailure(error);
    const { store, restored } = await openStore(this.#settings, this.user.id, reportStorageFailure);
    if (this.#closed) {
      store?.close();
      throw disposedDuringConnect();
    }
    const { context, calls, lifetime } = composeSession(this.user, this.#settings, this.#outlets, store, reportStorageFailure);
    this.#running = { context, calls };
    this.#lifetime.add(lifetime);
    holdRestored(context, restored);

    await context.transport.open();
    if (this.#closed) throw disposedDuringConnect();
    this.started = true;
    restore(context, restored);
    this.#lifetime.add(
      context.transport.state$.subscribe((state) => {
        this.#outlets.connectionState.registration(state);
        if (state === 'connected') greet(context);
      }),
    );
  }

  #reportStorageFailure(error: unknown): void {
    this.#outlets.errors.report(
      new InvitationError('STORAGE_FAILED', 'Invitations could not be saved; the plugin goes on, and keeps them in memory if the store cannot be repaired', { cause: error }),
    );
  }

  /** What rings here now, as `invitationReceived$` said it: for a tab that joins (src/tabs). */
  ringing(): InvitationReceivedEvent[] {
    return this.#running ? ringing(this.#running.context) : [];
  }

  pushLink(): PushServerLink | undefined {
    return this.started ? this.#running?.context.transport.push : undefined;
  }

  stats(): PluginStats {
    if (!this.#running) return idleStats();
    const { transport, legs, calls } = this.#running.context;
    return { ...transport.stats(), invitations: legs.invitationCount, pendingDeliveries: legs.owedCount + calls.owedCount };
  }

  /** Stops everything at once; resolves when the last changes are on disk and the store is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.started = false;
    try {
      this.#lifetime.unsubscribe();
    } finally {
      this.#outlets.connectionState.disconnected();
      await this.#running?.context.persistence.close();
    }
  }
}

/** Flushes everything owed, and says hello to peers that may owe us something. */
function greet({ legs, calls, delivery, settings }: SessionContext): void {
  const { owed, live } = legs.peersToGreet(settings.clock.now());
  for (const peer of [...owed, ...calls.owedPeers()]) delivery.kick(peer);
  for (const peer of live) delivery.hello(peer);
}

function disposedDuringConnect(): InvitationError {
  return new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
}
