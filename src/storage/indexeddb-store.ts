/** The IndexedDB store: the only module that imports idb. */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import type { Leg } from '../core/state-machine.js';
import type { OpenStore, StoredCall } from './store.js';

/**
 * Version 1 had the `legs` store alone; version 2 added its `deadline` index so
 * expired legs are purged without being read; version 3 moves them to `rows`,
 * each stamped with the user it belongs to, so users who share a database never
 * see each other's legs (rows of older versions go to the user who upgrades,
 * the owner of the default per-user database). Add a case per new version.
 *
 * Advanced-mode calls are rows of `rows` too, with no schema change: owner `<user>#calls`
 * (no user id has a `#`), the call id as `invitationID`, `peer` empty and `forgetAt` as
 * `deadline`. The legs' queries, by owner, never see them, so code that knows no calls
 * (an older tab on the same database) reads the same legs as before.
 */
export const SCHEMA_VERSION = 3;

interface LegRow extends Leg {
  owner: string;
}

interface CallRow {
  owner: string;
  invitationID: string;
  peer: '';
  deadline: number;
  call: StoredCall;
}

type Row = LegRow | CallRow;

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
  const callOwner = `${owner}#calls`;
  const callRange = IDBKeyRange.bound([callOwner, -Infinity], [callOwner, Infinity]);

  return {
    async load(purgeBefore) {
      const transaction = db.transaction('rows', 'readwrite');
      const expired = IDBKeyRange.bound([owner, -Infinity], [owner, purgeBefore], false, true);
      for (let cursor = await transaction.store.index('ownerDeadline').openCursor(expired); cursor; cursor = await cursor.continue()) {
        await cursor.delete();
      }
      const rows = (await transaction.store.index('ownerDeadline').getAll(ownRange)) as LegRow[];
      await transaction.done;
      return rows.map(({ owner: _owner, ...leg }) => leg);
    },
    async loadCalls(purgeBefore) {
      const transaction = db.transaction('rows', 'readwrite');
      const expired = IDBKeyRange.bound([callOwner, -Infinity], [callOwner, purgeBefore], false, true);
      for (let cursor = await transaction.store.index('ownerDeadline').openCursor(expired); cursor; cursor = await cursor.continue()) {
        await cursor.delete();
      }
      const rows = (await transaction.store.index('ownerDeadline').getAll(callRange)) as CallRow[];
      await transaction.done;
      return rows.map((row) => row.call);
    },
    async writeCalls(puts, deletes) {
      const transaction = db.transaction('rows', 'readwrite');
      await Promise.all([
        ...puts.map((call) => transaction.store.put({ owner: callOwner, invitationID: call.callID, peer: '', deadline: call.forgetAt, call })),
        ...deletes.map((callID) => transaction.store.delete([callOwner, callID, ''])),
        transaction.done,
      ]);
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
      for (const key of [owner, callOwner]) {
        for (let cursor = await transaction.store.index('owner').openCursor(key); cursor; cursor = await cursor.continue()) {
          await cursor.delete();
        }
      }
      await transaction.done;
    },
    close() {
      db.close();
      database = undefined;
    },
  };
};
