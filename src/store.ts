/**
 * Where legs live between page loads. The plugin keeps its working state in
 * memory and writes every change through a store, so a store only has to
 * load, put and delete. `openMemoryStore` is the `storage: 'memory'` store;
 * the IndexedDB one is in indexeddb-store.ts, the only module that imports idb.
 */
import type { Leg } from './state-machine.js';

export type LegKey = readonly [invitationID: string, peer: string];

export interface InvitationStore {
  /** Every leg kept, after deleting those whose deadline is before `purgeBefore`. */
  load(purgeBefore: number): Promise<Leg[]>;
  /** Writes the legs in one transaction. */
  put(legs: readonly Leg[]): Promise<void>;
  /** Deletes the legs in one transaction; missing keys are ignored. */
  delete(keys: readonly LegKey[]): Promise<void>;
  /** Releases the store; safe to call twice. */
  close(): void;
}

/** Opens the store of one database (by default one per user id). */
export type OpenStore = (databaseName: string) => Promise<InvitationStore>;

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

export const openMemoryStore: OpenStore = async (databaseName) => {
  let legs = memoryDatabases.get(databaseName);
  if (!legs) {
    legs = new Map();
    memoryDatabases.set(databaseName, legs);
  }
  const database = legs;
  return {
    async load(purgeBefore) {
      for (const [key, leg] of database) if (leg.deadline < purgeBefore) database.delete(key);
      return [...database.values()].map((leg) => structuredClone(leg));
    },
    async put(changed) {
      for (const leg of changed) database.set(legKeyString(legKey(leg)), structuredClone(leg));
    },
    async delete(keys) {
      for (const key of keys) database.delete(legKeyString(key));
    },
    close() {},
  };
};

/** Forgets a memory database; for tests. */
export function deleteMemoryDatabase(databaseName: string): void {
  memoryDatabases.delete(databaseName);
}
