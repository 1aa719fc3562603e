/** The IndexedDB store: the only module that imports idb. */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Leg } from './state-machine.js';
import type { OpenStore } from './store.js';

/**
 * Version 1 had the `legs` store alone; version 2 adds the `deadline` index so
 * expired legs are purged without being read. Add a case per new version.
 */
export const SCHEMA_VERSION = 2;

interface InvitationSchema extends DBSchema {
  legs: {
    key: [string, string];
    value: Leg;
    indexes: { deadline: number };
  };
}

export const openIndexedDbStore: OpenStore = async (databaseName) => {
  let database: IDBPDatabase<InvitationSchema> | undefined = await openDB<InvitationSchema>(databaseName, SCHEMA_VERSION, {
    upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) db.createObjectStore('legs', { keyPath: ['invitationID', 'peer'] });
      if (oldVersion < 2) transaction.objectStore('legs').createIndex('deadline', 'deadline');
    },
    // Another tab wants a newer schema: let it have the database.
    blocking() {
      database?.close();
    },
  });
  const db = database;

  return {
    async load(purgeBefore) {
      const transaction = db.transaction('legs', 'readwrite');
      const expired = IDBKeyRange.upperBound(purgeBefore, true);
      for (let cursor = await transaction.store.index('deadline').openCursor(expired); cursor; cursor = await cursor.continue()) {
        await cursor.delete();
      }
      const legs = await transaction.store.getAll();
      await transaction.done;
      return legs;
    },
    async put(legs) {
      const transaction = db.transaction('legs', 'readwrite');
      await Promise.all([...legs.map((leg) => transaction.store.put(leg)), transaction.done]);
    },
    async delete(keys) {
      const transaction = db.transaction('legs', 'readwrite');
      await Promise.all([...keys.map((key) => transaction.store.delete([key[0], key[1]])), transaction.done]);
    },
    close() {
      db.close();
      database = undefined;
    },
  };
};
