/**
 * Wires SERVER-INFO and the relay onto PeerServer. `watch` sees each client socket before
 * PeerServer does, so that SERVER-INFO follows the OPEN at once (before the offers that waited
 * for the id); `attach` listens on PeerServer's own events: `connection` (an id registered),
 * `disconnect` (it left), and `message` (each frame of a registered client, `src` set by
 * PeerServer from the socket; PeerServer itself ignores the types it does not know, RELAY
 * among them).
 */
import type { IncomingMessage } from 'node:http';
import type { IClient, IMessage } from 'peer';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Cluster } from './cluster.js';
import { Relay, RelayMailbox, type Handover, type RelayedMessage } from './relay.js';
import { ServerInfoSender, serverInfoFor, type TurnOptions } from './server-info.js';

interface PeerServerEvents {
  on(event: 'connection' | 'disconnect', listener: (client: IClient) => void): unknown;
  on(event: 'message', listener: (client: IClient, message: IMessage) => void): unknown;
}

export interface ReachOptions {
  relay: boolean;
  turn: TurnOptions | undefined;
  /** How long a relayed message for an offline id waits (the offers' `expireTimeoutMs`). */
  expireTimeoutMs: number;
  cluster: Cluster | undefined;
}

/** What PeerServer sends a client whose id it has just registered. */
const OPEN_FRAME = JSON.stringify({ type: 'OPEN' });

export interface Reach {
  /** Call with the WebSocket server before PeerServer listens on it. */
  watch(sockets: WebSocketServer): void;
  /** Call with PeerServer's app. */
  attach(app: PeerServerEvents): void;
  close(): void;
}

export function createReach({ relay: enabled, turn, expireTimeoutMs, cluster }: ReachOptions): Reach {
  const info = new ServerInfoSender(serverInfoFor({ relay: enabled, turn }));
  const clients = new Map<string, IClient>();
  const mailbox = cluster ? undefined : new RelayMailbox({ expireMs: expireTimeoutMs });
  const sendTo = (client: IClient, message: object) => client.getSocket()?.send(JSON.stringify(message));

  const handOver = (message: RelayedMessage): Handover | Promise<Handover> => {
    if (cluster) return cluster.send(message);
    const recipient = clients.get(message.dst);
    if (!recipient) return mailbox!.park(message);
    sendTo(recipient, message);
    return 'sent';
  };
  const relay = new Relay({ enabled, handOver });

  return {
    watch(sockets) {
      sockets.on('connection', (socket: WebSocket, request: IncomingMessage) => {
        const userId = new URL(request.url ?? '', 'http://peerjs').searchParams.get('id');
        if (!userId) return;
        const send = socket.send;
        socket.send = function (this: WebSocket, ...args: unknown[]) {
          (send as (...args: unknown[]) => void).apply(this, args);
          if (args[0] !== OPEN_FRAME) return;
          socket.send = send;
          info.registered(userId, (message) => socket.send(JSON.stringify(message)));
        } as WebSocket['send'];
      });
    },
    attach(app) {
      app.on('connection', (client) => {
        const userId = client.getId();
        clients.set(userId, client);
        for (const message of mailbox?.take(userId) ?? []) sendTo(client, message);
      });
      app.on('disconnect', (client) => {
        const userId = client.getId();
        if (clients.get(userId) !== client) return;
        clients.delete(userId);
        info.unregistered(userId);
        relay.forget(userId);
      });
      app.on('message', (client, message) => {
        if ((message.type as string) !== 'RELAY') return;
        void relay.receive(client.getId(), message as { dst?: unknown; payload?: unknown }, (reply) => sendTo(client, reply));
      });
    },
    close() {
      info.close();
      mailbox?.close();
    },
  };
}
