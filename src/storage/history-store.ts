/**
 * Where the call history lives: one record per invitation, merged in place
 * from facts (src/history/records.ts). `openMemoryHistory` is the store of
 * `storage: 'memory'`; the IndexedDB one is in indexeddb-history-store.ts.
 */
import { mergeFact, type Fact, type StoredRecord } from '../history/records.js';

export interface HistoryBounds {
  /** Records created before this are deleted. */
  purgeBefore: number;
  /** At most this many records are kept; the oldest by `createTime` go first. */
  maxRecords: number;
}

export interface HistoryStore {
  /** Merges the facts into their records and applies the bounds, all in one transaction: all or nothing. */
  apply(facts: readonly Fact[], bounds: HistoryBounds): Promise<void>;
  /** Every record created at or after `createdSince`. */
  all(createdSince: number): Promise<StoredRecord[]>;
  /** Safe to call twice. */
  close(): void;
}

export type OpenHistoryStore = (databaseName: string) => Promise<HistoryStore>;

/** The database beside the user's invitation database that holds its history. */
export function historyDatabaseName(databaseName: string): string {
  return `${databaseName}:history`;
}

/** Drops the records beyond the bounds from a map of them. */
export function prune(records: Map<string, StoredRecord>, bounds: HistoryBounds): void {
  for (const [id, record] of records) if (record.createTime < bounds.purgeBefore) records.delete(id);
  const excess = records.size - bounds.maxRecords;
  if (excess <= 0) return;
  if (excess === 1) {
    // The usual case once full: one new record pushes out the oldest, found without sorting them all.
    let oldest: StoredRecord | undefined;
    for (const record of records.values()) if (!oldest || record.createTime < oldest.createTime) oldest = record;
    records.delete(oldest!.invitationID);
    return;
  }
  const oldest = [...records.values()].sort((a, b) => a.createTime - b.createTime).slice(0, excess);
  for (const record of oldest) records.delete(record.invitationID);
}

// Shared by the plugins of one page, as IndexedDB is by its tabs.
const memoryHistories = new Map<string, Map<string, StoredRecord>>();

export const openMemoryHistory: OpenHistoryStore = async (databaseName) => {
  let records = memoryHistories.get(databaseName);
  if (!records) memoryHistories.set(databaseName, (records = new Map()));
  const database = records;
  return {
    async apply(facts, bounds) {
      // Only the records the facts touch are merged and cloned (a clone that throws changes nothing):
      // copying the whole history on every write made each write cost as much as the history is long.
      const changed = new Map<string, StoredRecord>();
      for (const fact of facts) {
        const record = mergeFact(changed.get(fact.invitationID) ?? database.get(fact.invitationID), fact);
        if (record) changed.set(fact.invitationID, record);
      }
      const cloned = [...changed.values()].map((record) => structuredClone(record));
      for (const record of cloned) database.set(record.invitationID, record);
      prune(database, bounds);
    },
    async all(createdSince) {
      return [...database.values()].filter((record) => record.createTime >= createdSince).map((record) => structuredClone(record));
    },
    close() {},
  };
};

/** Forgets a memory history; for tests. */
export function deleteMemoryHistory(databaseName: string): void {
  memoryHistories.delete(databaseName);
}
