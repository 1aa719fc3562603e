/**
 * Group commit of legs to the store. Changes wait for the end of the task (so
 * sends go first) and for the write in flight, then go together in the next
 * write: a burst of messages costs a few transactions, not one each. A failed
 * write is reported once and repaired by rewriting the store from memory; if
 * even that fails, the store is emptied and the session goes on in memory, so
 * that a reload never brings back something older than what the page showed.
 * Advanced-mode calls go the same way, in the same batches.
 */
import type { Leg } from '../core/state-machine.js';
import { legKey, legKeyString, type InvitationStore, type LegKey, type StoredCall } from './store.js';

/** What memory holds now, to rewrite the store after a failure. */
export interface Snapshot {
  legs(): Leg[];
  calls(): StoredCall[];
}

export class Persistence {
  /** Legs changed and not yet handed to the store. */
  readonly #unsaved = new Map<string, Leg>();
  /** Legs to delete with the next write. */
  readonly #forgotten = new Map<string, LegKey>();
  /** Calls changed (as they were last saved) and calls to delete, by call id. */
  readonly #unsavedCalls = new Map<string, StoredCall>();
  readonly #forgottenCalls = new Set<string>();
  /** The write in flight (settled when idle); never rejects. */
  #writing: Promise<void> = Promise.resolve();
  /** The batch that will be written once `#writing` is done. */
  #nextWrite: Promise<void> | undefined;
  #store: InvitationStore | undefined;
  #closed = false;

  readonly #snapshot: Snapshot;
  readonly #reportFailure: (error: unknown) => void;

  /**
   * @param store where to write; undefined for a session without one
   * @param snapshot every leg and call held in memory now, to rewrite the store after a failure
   * @param reportFailure called once, at the first failure
   */
  constructor(store: InvitationStore | undefined, snapshot: Snapshot, reportFailure: (error: unknown) => void) {
    this.#store = store;
    this.#snapshot = snapshot;
    let reported = false;
    this.#reportFailure = (error) => {
      if (reported || this.#closed) return;
      reported = true;
      reportFailure(error);
    };
  }

  /** Queues legs for the next write; settles when they are written, or given up on. */
  save(legs: readonly Leg[]): Promise<void> {
    for (const leg of legs) {
      const key = legKeyString(legKey(leg));
      this.#forgotten.delete(key);
      this.#unsaved.set(key, leg);
    }
    return this.#schedule();
  }

  /** Queues the deletion of legs (and drops their unsaved changes). */
  forget(legs: readonly Leg[]): void {
    for (const leg of legs) {
      const key = legKeyString(legKey(leg));
      this.#unsaved.delete(key);
      this.#forgotten.set(key, legKey(leg));
    }
    void this.#schedule();
  }

  /** Queues a call for the next write (its latest state wins). */
  saveCall(call: StoredCall): void {
    this.#forgottenCalls.delete(call.callID);
    this.#unsavedCalls.set(call.callID, call);
    void this.#schedule();
  }

  /** Queues the deletion of a call. */
  forgetCall(callID: string): void {
    this.#unsavedCalls.delete(callID);
    this.#forgottenCalls.add(callID);
    void this.#schedule();
  }

  /** Settles once everything queued so far is written, or given up on. */
  saved(): Promise<void> {
    return this.#nextWrite ?? this.#writing;
  }

  #schedule(): Promise<void> {
    // At least two microtask turns: deliveries kicked in this task take one, so they
    // reach the wire before the store's synchronous part (structured clone, IPC) runs.
    this.#nextWrite ??= this.#writing
      .then(() => undefined)
      .then(() => {
        const puts = [...this.#unsaved.values()];
        const deletes = [...this.#forgotten.values()];
        const calls = { puts: [...this.#unsavedCalls.values()], deletes: [...this.#forgottenCalls] };
        this.#unsaved.clear();
        this.#forgotten.clear();
        this.#unsavedCalls.clear();
        this.#forgottenCalls.clear();
        this.#nextWrite = undefined;
        this.#writing = this.#write(puts, deletes, calls);
        return this.#writing;
      });
    return this.#nextWrite;
  }

  async #write(puts: Leg[], deletes: LegKey[], calls: { puts: StoredCall[]; deletes: string[] }): Promise<void> {
    const store = this.#store;
    if (!store) return;
    try {
      if (puts.length > 0) await store.put(puts);
      if (deletes.length > 0) await store.delete(deletes);
      if (calls.puts.length + calls.deletes.length > 0) await store.writeCalls?.(calls.puts, calls.deletes);
    } catch (error) {
      this.#reportFailure(error);
      await this.#repair(store);
    }
  }

  /** Rewrites the store from memory; failing that, empties it and stops writing. */
  async #repair(store: InvitationStore): Promise<void> {
    try {
      await store.clear();
      await store.put(this.#snapshot.legs());
      await store.writeCalls?.(this.#snapshot.calls(), []);
      return;
    } catch {
      // Still failing (a full disk): fall through and leave nothing stale behind.
    }
    this.#store = undefined;
    try {
      await store.clear();
    } catch {
      // Nothing more can be done here; README's limits say so.
    }
    store.close();
  }

  /** Waits for the last write and closes the store; nothing is written after it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.saved();
    this.#store?.close();
    this.#store = undefined;
  }
}
