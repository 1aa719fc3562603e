/**
 * Where push meets the PeerServer: the clients registered on this server (to tell "online" and
 * to deliver a decline's `refuse`), the PUSH-* frames of each socket, the OFFERs PeerServer parks
 * for an id registered nowhere (on one server; a cluster's mailbox reports its own), SERVER-INFO
 * with the VAPID public key after OPEN, and the decline endpoint.
 */
import { posix } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPush, type Push, type PushHost, type PushOptions } from './index.js';
import type { RedisCommands } from './subscriptions.js';

interface Client {
  getId(): string;
  getSocket(): { send(data: string): void } | null;
}

/** The slice of PeerServer's Express app used here. */
export interface PeerServerApp {
  on(event: 'connection' | 'disconnect', listener: (client: Client) => void): unknown;
  on(event: 'message', listener: (client: Client, message: { type?: unknown; dst?: unknown; payload?: unknown }) => void): unknown;
  all(path: string, handler: (request: IncomingMessage, response: ServerResponse) => void): unknown;
}

/** What a cluster offers push: its Redis, and routing to any node. */
export interface PushCluster {
  readonly redis: RedisCommands;
  isRegistered(userId: string): Promise<boolean>;
  deliver(frame: { type: string; src: string; dst: string; payload: unknown }): Promise<boolean>;
}

export interface ServerPush {
  push: Push;
  /** Wires push into PeerServer's app, mounted at `path`. */
  attach(app: PeerServerApp, path: string): void;
}

export async function startServerPush(options: PushOptions, cluster: PushCluster | undefined): Promise<ServerPush> {
  const clients = new Map<string, Client>();
  const sendTo = (userId: string, frame: object): boolean => {
    const socket = clients.get(userId)?.getSocket();
    if (!socket) return false;
    socket.send(JSON.stringify(frame));
    return true;
  };
  const host: PushHost = cluster
    ? { isRegistered: (userId) => cluster.isRegistered(userId), deliver: (frame) => cluster.deliver(frame), redis: cluster.redis }
    : { isRegistered: async (userId) => clients.has(userId), deliver: async (frame) => sendTo(frame.dst, frame) };
  const push = await createPush(options, host);
  return {
    push,
    attach(app, path) {
      app.on('connection', (client) => {
        clients.set(client.getId(), client);
        client.getSocket()?.send(JSON.stringify({ type: 'SERVER-INFO', payload: { relay: false, push: { publicKey: push.publicKey } } }));
      });
      app.on('disconnect', (client) => {
        if (clients.get(client.getId()) === client) clients.delete(client.getId());
      });
      app.on('message', (client, message) => {
        const userId = client.getId();
        if (push.frame(userId, message, (frame) => client.getSocket()?.send(JSON.stringify(frame)))) return;
        // In a cluster, messages for ids registered nowhere never reach PeerServer: its mailbox reports them.
        const { type, dst } = message;
        if (!cluster && (type === 'OFFER' || type === 'RELAY') && typeof dst === 'string' && !clients.has(dst)) {
          push.parked({ type, src: userId, dst, payload: message.payload });
        }
      });
      app.all(posix.join(path, 'push/decline'), (request, response) => push.http(request, response));
    },
  };
}
