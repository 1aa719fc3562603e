/**
 * One connected user, from `connectUser` to `disconnectUser`: opens the store,
 * builds the parts (context.ts) and wires them, restores what the store kept,
 * greets peers after each (re)connection, ends invitations at their deadlines,
 * and tears everything down once. The app's calls are in app-calls.ts, what
 * peers send in inbound.ts.
 */
import { Subscription } from 'rxjs';
import { Announcer, type Outlets } from './announcer.js';
import type { PluginStats } from '../api/plugin-api.js';
import { AppCalls, composeOwed } from './app-calls.js';
import { Deadlines } from './deadlines.js';
import { Delivery, type DeliveryHost, type OwedMessage } from './delivery.js';
import { InvitationError } from '../errors.js';
import { Inbound } from './inbound.js';
import { LegTable } from './legs.js';
import type { Parts, Settings } from './context.js';
import { Persistence } from '../storage/persistence.js';
import { MAX_TIMEOUT_SECONDS } from '../core/protocol.js';
import { isAnswerable, transition, type Leg } from '../core/state-machine.js';
import type { InvitationStore } from '../storage/store.js';
import type { InvitationReceivedEvent, User } from '../api/types.js';

export class Session implements DeliveryHost {
  readonly user: User;
  /** True once `start` resolved, until `close`. */
  started = false;
  #closed = false;
  #parts: Parts | undefined;
  #calls: AppCalls | undefined;
  readonly #lifetime = new Subscription();

  readonly #settings: Settings;
  readonly #outlets: Outlets;

  constructor(user: User, settings: Settings, outlets: Outlets) {
    this.user = user;
    this.#settings = settings;
    this.#outlets = outlets;
  }

  #now(): number {
    return this.#settings.clock.now();
  }

  /** The app's calls, once started. */
  get calls(): AppCalls | undefined {
    return this.started ? this.#calls : undefined;
  }

  async start(): Promise<void> {
    const { options, delivery: deliveryOptions, scheduler, clock } = this.#settings;
    this.#outlets.connectionState.next('connecting');
    const { store, restored } = await this.#openStore(options.databaseName ?? `peer-invitation:${this.user.id}`);
    if (this.#closed) {
      store?.close();
      throw disposedDuringConnect();
    }

    const legs = new LegTable();
    const announcer = new Announcer(this.#outlets, this.#settings.notify, this.user.id);
    const persistence = new Persistence(store, () => [...legs.all()], (error) => this.#reportStorageFailure(error));
    const deadlines = new Deadlines(clock, scheduler, deliveryOptions.retentionMs, {
      expire: (invitationID) => this.#expire(invitationID),
      purge: (invitationID) => this.#purge(invitationID),
    });
    const transport = this.#settings.createTransport({ id: this.user.id, peer: options.peer ?? {}, delivery: deliveryOptions, limits: this.#settings.limits, scheduler, clock });
    const delivery = new Delivery(transport, this, deliveryOptions, scheduler, clock);
    const parts: Parts = {
      user: this.user,
      settings: this.#settings,
      legs,
      announcer,
      deadlines,
      persistence,
      delivery,
      transport,
      commit(changed) {
        for (const leg of changed) legs.set(leg);
        return persistence.save(changed);
      },
    };
    this.#parts = parts;
    this.#calls = new AppCalls(parts);
    const inbound = new Inbound(parts);
    this.#lifetime.add(() => transport.close());
    this.#lifetime.add(() => delivery.close());
    this.#lifetime.add(() => deadlines.close());
    this.#lifetime.add(() => announcer.close());
    this.#lifetime.add(() => inbound.close());
    this.#lifetime.add(transport.frames$.subscribe(({ from, frame }) => inbound.receive(from, frame)));
    this.#lifetime.add(transport.errors$.subscribe((error) => announcer.error(error)));

    // A queued invite may have been written before the page went away: count it as wired, so a
    // cancel follows it (a cancel for an invite that never arrived is harmless).
    for (const leg of restored) legs.set(leg.state === 'queued' ? { ...leg, wired: true } : leg);

    await transport.open();
    if (this.#closed) throw disposedDuringConnect();
    this.started = true;
    this.#restore(restored);
    this.#lifetime.add(
      transport.state$.subscribe((state) => {
        this.#outlets.connectionState.next(state);
        if (state === 'connected') this.#greet();
      }),
    );
  }

  /** Opens the store and loads what it kept; on failure, reports it and goes on without one. */
  async #openStore(databaseName: string): Promise<{ store: InvitationStore | undefined; restored: Leg[] }> {
    let store: InvitationStore | undefined;
    try {
      store = await this.#settings.openStore(databaseName, this.user.id);
      const kept = await store.load(this.#now() - this.#settings.delivery.retentionMs);
      return { store, restored: kept.map((leg) => this.#believable(leg)) };
    } catch (error) {
      store?.close();
      this.#reportStorageFailure(error);
      return { store: undefined, restored: [] };
    }
  }

  /**
   * A leg from an earlier page, as this page's clock sees it. If the wall clock was set
   * back since, its deadline looks further away than it was: never more than its timeout.
   */
  #believable(leg: Leg): Leg {
    const now = this.#now();
    const timeoutMs = Math.min(leg.deadline - leg.createTime, MAX_TIMEOUT_SECONDS * 1000);
    if (leg.deadline - now <= timeoutMs) return leg;
    return { ...leg, createTime: now, deadline: now + timeoutMs };
  }

  #reportStorageFailure(error: unknown): void {
    this.#outlets.errors.next(
      new InvitationError('STORAGE_FAILED', 'Invitations could not be saved; the plugin goes on, and keeps them in memory if the store cannot be repaired', { cause: error }),
    );
  }

  /** Re-arms deadlines and tells the app what it held before the reload (once per plugin). */
  #restore(restored: Leg[]): void {
    const { legs, deadlines, announcer } = this.#parts!;
    for (const leg of restored) deadlines.arm(leg.invitationID, leg.deadline);
    const now = this.#now();
    for (const { invitationID, peer } of restored) {
      const leg = legs.get(invitationID, peer);
      if (!leg || leg.deadline <= now) continue;
      if (leg.role === 'invitee' && leg.state === 'ringing') announcer.ring(leg, now, () => legs.get(invitationID, peer)?.state === 'ringing');
      if (leg.role === 'inviter' && isAnswerable(leg.state)) announcer.inviteeStateIfNew(leg);
    }
  }

  /** Flushes everything owed, and says hello to peers that may owe us something. */
  #greet(): void {
    const { legs, delivery } = this.#parts!;
    const { owed, live } = legs.peersToGreet(this.#now());
    for (const peer of owed) delivery.kick(peer);
    for (const peer of live) delivery.hello(peer);
  }

  // ---- deadlines ----------------------------------------------------------

  #expire(invitationID: string): void {
    const { legs, announcer } = this.#parts!;
    const now = this.#now();
    const changed: Leg[] = [];
    const timedOut: Leg[] = [];
    for (const leg of legs.of(invitationID)) {
      const result = transition(leg, { type: 'deadline' }, now);
      if (!result.ok || !result.changed) continue;
      changed.push(result.leg);
      if (result.leg.state === 'timeout' && leg.state !== 'timeout') timedOut.push(result.leg);
    }
    if (changed.length === 0) return;
    void this.#parts!.commit(changed);
    announcer.stopRinging(invitationID);
    announcer.responseTimedOut(invitationID, timedOut.filter((leg) => leg.role === 'inviter'));
    for (const leg of timedOut) if (leg.role === 'invitee') announcer.timedOut(leg);
  }

  #purge(invitationID: string): void {
    const { legs, persistence, announcer } = this.#parts!;
    const removed = legs.remove(invitationID);
    persistence.forget(removed);
    announcer.forget(removed);
  }

  // ---- what Delivery asks -------------------------------------------------

  owed(peer: string): OwedMessage[] {
    const now = this.#now();
    const owed: OwedMessage[] = [];
    for (const leg of this.#parts?.legs.owedTo(peer) ?? []) {
      if (!leg.outbox || leg.deadline <= now) continue;
      const kind = leg.outbox;
      owed.push({ kind, invitationID: leg.invitationID, compose: () => composeOwed(leg, kind, Math.max(1, leg.deadline - this.#now())) });
    }
    return owed;
  }

  wired(peer: string, message: OwedMessage): void {
    if (message.kind !== 'invite' || !this.#parts) return;
    const leg = this.#parts.legs.get(message.invitationID, peer);
    const result = leg && transition(leg, { type: 'wired' }, this.#now());
    // Kept in memory only, to spare a disk write per send: the ack's write saves it, and a leg
    // restored while still queued is taken as wired (see start).
    if (result?.ok && result.changed) this.#parts.legs.set(result.leg);
  }

  /** What rings here now, as `invitationReceived$` said it: for a tab that joins (src/tabs). */
  ringing(): InvitationReceivedEvent[] {
    if (!this.#parts) return [];
    const { legs, announcer } = this.#parts;
    const now = this.#now();
    return [...legs.all()].filter((leg) => leg.role === 'invitee' && leg.state === 'ringing' && leg.deadline > now).map((leg) => announcer.receivedEvent(leg, now));
  }

  stats(): PluginStats {
    const transport = this.#parts?.transport.stats() ?? { connectAttempts: 0, openConnections: 0 };
    return { ...transport, invitations: this.#parts?.legs.invitationCount ?? 0, pendingDeliveries: this.#parts?.legs.owedCount ?? 0 };
  }

  /** Stops everything at once; resolves when the last changes are on disk and the store is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.started = false;
    this.#lifetime.unsubscribe();
    this.#outlets.connectionState.next('disconnected');
    await this.#parts?.persistence.close();
  }
}

function disposedDuringConnect(): InvitationError {
  return new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
}
