/** The IndexedDB store: the only module that imports idb. */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import type { Leg } from '../core/state-machine.js';
import type { OpenStore } from './store.js';

/**
 * Version 1 had the `legs` store alone; version 2 added its `deadline` index so
 * expired legs are purged without being read; version 3 moves them to `rows`,
 * each stamped with the user it belongs to, so users who share a database never
 * see each other's legs (rows of older versions go to the user who upgrades,
 * the owner of the default per-user database). Add a case per new version.
 */
export const SCHEMA_VERSION = 3;

interface Row extends Leg {
  owner: string;
}

interface InvitationSchema extends DBSchema {
  rows: {
    key: [string, string, string];
    value: Row;
    indexes: { owner: string; ownerDeadline: [string, number] };
  };
}

export const openIndexedDbStore: OpenStore = async (databaseName, owner) => {
  let database: IDBPDatabase<InvitationSchema> | undefined = await openDB<InvitationSchema>(databaseName, SCHEMA_VERSION, {
    async upgrade(db, oldVersion, _newVersion, transaction) {
      const rows = db.createObjectStore('rows', { keyPath: ['owner', 'invitationID', 'peer'] });
      rows.createIndex('owner', 'owner');
      rows.createIndex('ownerDeadline', ['owner', 'deadline']);
      if (oldVersion < 1) return;
      // The old store is not in the current schema: reach it untyped.
      const legs = (await (transaction as unknown as IDBPTransaction<unknown, ['legs'], 'versionchange'>).objectStore('legs').getAll()) as Leg[];
      for (const leg of legs) await rows.put({ ...leg, owner });
      (db as unknown as IDBPDatabase).deleteObjectStore('legs');
    },
    // Another tab wants a newer schema: let it have the database.
    blocking() {
      database?.close();
    },
  });
  const db = database;
  const ownRange = IDBKeyRange.bound([owner, -Infinity], [owner, Infinity]);

  return {
    async load(purgeBefore) {
      const transaction = db.transaction('rows', 'readwrite');
      const expired = IDBKeyRange.bound([owner, -Infinity], [owner, purgeBefore], false, true);
      for (let cursor = await transaction.store.index('ownerDeadline').openCursor(expired); cursor; cursor = await cursor.continue()) {
        await cursor.delete();
      }
      const rows = await transaction.store.index('ownerDeadline').getAll(ownRange);
      await transaction.done;
      return rows.map(({ owner: _owner, ...leg }) => leg);
    },
    async put(legs) {
      const transaction = db.transaction('rows', 'readwrite');
      await Promise.all([...legs.map((leg) => transaction.store.put({ ...leg, owner })), transaction.done]);
    },
    async delete(keys) {
      const transaction = db.transaction('rows', 'readwrite');
      await Promise.all([...keys.map(([invitationID, peer]) => transaction.store.delete([owner, invitationID, peer])), transaction.done]);
    },
    async clear() {
      const transaction = db.transaction('rows', 'readwrite');
      for (let cursor = await transaction.store.index('owner').openCursor(owner); cursor; cursor = await cursor.continue()) {
        await cursor.delete();
      }
      await transaction.done;
    },
    close() {
      db.close();
      database = undefined;
    },
  };
};
