/** The call history in IndexedDB, a database of its own beside the invitation store's. */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { mergeFact, type StoredRecord } from '../history/records.js';
import type { OpenHistoryStore } from './history-store.js';

/** Version 1: `records` by invitation id, indexed by `createTime` for purging and the count bound. */
const HISTORY_SCHEMA_VERSION = 1;

interface HistorySchema extends DBSchema {
  records: {
    key: string;
    value: StoredRecord;
    indexes: { createTime: number };
  };
}

export const openIndexedDbHistory: OpenHistoryStore = async (databaseName) => {
  let database: IDBPDatabase<HistorySchema> | undefined = await openDB<HistorySchema>(databaseName, HISTORY_SCHEMA_VERSION, {
    upgrade(db) {
      const records = db.createObjectStore('records', { keyPath: 'invitationID' });
      records.createIndex('createTime', 'createTime');
    },
    blocking() {
      database?.close();
    },
  });
  const db = database;
  return {
    async apply(facts, { purgeBefore, maxRecords }) {
      // One readwrite transaction: tabs writing the same record are serialized by IndexedDB, and each merges over the other's.
      const transaction = db.transaction('records', 'readwrite');
      const store = transaction.store;
      const work = (async () => {
        // All reads at once, then all writes: a burst of facts costs the transaction's turns once, not once per fact.
        const ids = [...new Set(facts.map((fact) => fact.invitationID))];
        const stored = await Promise.all(ids.map((id) => store.get(id)));
        const merged = new Map<string, StoredRecord>();
        let added = false;
        ids.forEach((id, index) => {
          const record = stored[index];
          if (record) merged.set(id, record);
        });
        for (const fact of facts) {
          const existing = merged.get(fact.invitationID);
          const record = mergeFact(existing, fact);
          if (!record) continue;
          added ||= existing === undefined;
          merged.set(fact.invitationID, record);
        }
        await Promise.all([...merged.values()].map((record) => store.put(record)));
        const index = store.index('createTime');
        for (let cursor = await index.openCursor(IDBKeyRange.upperBound(purgeBefore, true)); cursor; cursor = await cursor.continue()) await cursor.delete();
        // Only a new record can take the history past its count bound: changes to records it holds need no count.
        if (!added) return;
        let excess = (await store.count()) - maxRecords;
        for (let cursor = excess > 0 ? await index.openCursor() : null; cursor && excess > 0; excess -= 1) {
          await cursor.delete();
          cursor = excess > 1 ? await cursor.continue() : null;
        }
      })();
      await Promise.all([work, transaction.done]);
    },
    async all(createdSince) {
      return db.getAllFromIndex('records', 'createTime', IDBKeyRange.lowerBound(createdSince));
    },
    close() {
      db.close();
      database = undefined;
    },
  };
};
