/**
 * Where legs live between page loads. The plugin keeps its working state in
 * memory and writes every change through a store, so a store only has to
 * load, put, delete and clear. A store is opened for one user (its owner) and
 * sees only that user's legs, even in a database other users share.
 * `openMemoryStore` is the `storage: 'memory'` store; the IndexedDB one is in
 * indexeddb-store.ts, the only module that imports idb.
 */
import type { Roster } from '../core/roster.js';
import type { Leg } from '../core/state-machine.js';

/** An advanced-mode call as the store keeps it (src/session/calls/calls.ts holds it in memory). */
export interface StoredCall {
  callID: string;
  roster: Roster;
  type: number;
  timeoutMs: number;
  rings: string[];
  audience: string[];
  /** Version of what the owner wrote, and the members that have not acked it. */
  seq: number;
  owed: string[];
  /** The app was told of its end. */
  endTold: boolean;
  /** When the store forgets it. */
  forgetAt: number;
}

export type LegKey = readonly [invitationID: string, peer: string];

export interface InvitationStore {
  /** Every leg of the owner, after deleting those whose deadline is before `purgeBefore`. */
  load(purgeBefore: number): Promise<Leg[]>;
  /** Writes the legs in one transaction. */
  put(legs: readonly Leg[]): Promise<void>;
  /** Deletes the legs in one transaction; missing keys are ignored. */
  delete(keys: readonly LegKey[]): Promise<void>;
  /** Deletes every leg and call of the owner. */
  clear(): Promise<void>;
  /**
   * The owner's advanced-mode calls, after deleting those whose `forgetAt` is before
   * `purgeBefore`. Optional: a store without it keeps no calls (they last one page life).
   */
  loadCalls?(purgeBefore: number): Promise<StoredCall[]>;
  /** Writes and deletes (by call id) calls in one transaction; with `loadCalls`. */
  writeCalls?(puts: readonly StoredCall[], deletes: readonly string[]): Promise<void>;
  /** Releases the store; safe to call twice. */
  close(): void;
}

/** Opens the legs of user `owner` in a database (by default one per user). */
export type OpenStore = (databaseName: string, owner: string) => Promise<InvitationStore>;

export function legKey(leg: Pick<Leg, 'invitationID' | 'peer'>): LegKey {
  return [leg.invitationID, leg.peer];
}

/** Stable string form of a key, for Maps. */
export function legKeyString(key: LegKey): string {
  return JSON.stringify(key);
}

// Shared by every memory store of one page, so a new plugin on the same
// database name finds what the previous one left, as IndexedDB would.
const memoryDatabases = new Map<string, Map<string, Leg>>();
const memoryCalls = new Map<string, Map<string, StoredCall>>();

export const openMemoryStore: OpenStore = async (databaseName, owner) => {
  let legs = memoryDatabases.get(databaseName);
  if (!legs) {
    legs = new Map();
    memoryDatabases.set(databaseName, legs);
  }
  const database = legs;
  let calls = memoryCalls.get(databaseName);
  if (!calls) {
    calls = new Map();
    memoryCalls.set(databaseName, calls);
  }
  const callRows = calls;
  const callKey = (callID: string) => JSON.stringify([owner, callID]);
  const ownCallKeys = () => [...callRows.keys()].filter((key) => (JSON.parse(key) as string[])[0] === owner);
  const rowKey = (key: LegKey) => JSON.stringify([owner, ...key]);
  const ownRows = () => [...database.keys()].filter((key) => (JSON.parse(key) as string[])[0] === owner);
  return {
    async load(purgeBefore) {
      const own = ownRows();
      for (const key of own) if (database.get(key)!.deadline < purgeBefore) database.delete(key);
      return ownRows().map((key) => structuredClone(database.get(key)!));
    },
    async put(changed) {
      for (const leg of changed) database.set(rowKey(legKey(leg)), structuredClone(leg));
    },
    async delete(keys) {
      for (const key of keys) database.delete(rowKey(key));
    },
    async clear() {
      for (const key of ownRows()) database.delete(key);
      for (const key of ownCallKeys()) callRows.delete(key);
    },
    async loadCalls(purgeBefore) {
      for (const key of ownCallKeys()) if (callRows.get(key)!.forgetAt < purgeBefore) callRows.delete(key);
      return ownCallKeys().map((key) => structuredClone(callRows.get(key)!));
    },
    async writeCalls(puts, deletes) {
      for (const call of puts) callRows.set(callKey(call.callID), structuredClone(call));
      for (const callID of deletes) callRows.delete(callKey(callID));
    },
    close() {},
  };
};

/** Forgets a memory database; for tests. */
export function deleteMemoryDatabase(databaseName: string): void {
  memoryDatabases.delete(databaseName);
  memoryCalls.delete(databaseName);
}
