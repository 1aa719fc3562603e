/**
 * Wires SERVER-INFO and the relay onto the server. `watch` sees each client socket before
 * PeerServer does, so that SERVER-INFO follows the OPEN at once (before what waited for the
 * id), and stops its renewals when the socket closes; the switchboard hands RELAY frames to
 * the relay, which hands them back to the switchboard to deliver or park.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ClientLimits } from './limits.js';
import type { ServerCounters } from './metrics.js';
import { createRelay } from './relay.js';
import { ServerInfoSender, serverInfoFor, type TurnOptions } from './server-info.js';
import type { Switchboard } from './switchboard.js';

export interface ReachOptions {
  relay: boolean;
  turn: TurnOptions | undefined;
  limits: ClientLimits;
  switchboard: Switchboard;
  counters: ServerCounters;
}

/** What PeerServer sends a client whose id it has just registered. */
const OPEN_FRAME = JSON.stringify({ type: 'OPEN' });

export interface Reach {
  /** Call with the WebSocket server before PeerServer listens on it. */
  watch(sockets: WebSocketServer): void;
  close(): void;
}

export function createReach({ relay: enabled, turn, limits, switchboard, counters }: ReachOptions): Reach {
  const info = new ServerInfoSender(serverInfoFor({ relay: enabled, turn }));
  const relay = createRelay({
    enabled,
    maxPayloadBytes: limits.limits.maxRelayBytes,
    handOver: (message) => switchboard.relay(message),
    refused: (reason) => counters.refusals.inc({ reason: `relay_${reason}` }),
  });
  switchboard.onRelay = (src, frame, admission) => relay(src, frame, admission, (reply) => switchboard.clients.get(src)?.send(JSON.stringify(reply)));

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
          info.registered(userId, socket, (message) => socket.send(JSON.stringify(message)));
        } as WebSocket['send'];
        socket.once('close', () => info.left(userId, socket));
      });
    },
    close() {
      info.close();
      switchboard.onRelay = undefined;
    },
  };
}
