/**
 * The companion PeerServer: the `peer` package's own server, with the WebSocket
 * upgrade taken over (through its `createWebSocketServer` hook) so that a
 * client's token is checked before its id registers. A refused client gets
 * its WebSocket, one PeerJS `ERROR` message whose text starts with
 * `UNAUTHORIZED`, and a close: PeerJS reports that as a `server-error` the
 * plugin recognises (an HTTP 401 would reach it as a bare `network` error).
 */
import { createHook } from 'node:async_hooks';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { PeerServer } from 'peer';
import { WebSocketServer, type ServerOptions } from 'ws';
import { RoutedWebSocket, joinCluster, type Cluster, type ClaimResult } from './cluster.js';
import { startServerPush, type PeerServerApp, type ServerPush } from './push/attach.js';
import { checkPushOptions, type PushOptions } from './push/index.js';
import { verifyToken } from './tokens.js';

export interface StartPeerServerOptions {
  /** TCP port; 0 picks a free one (the result says which). */
  port: number;
  /** Interface to listen on. Default: all (Node's default). */
  host?: string;
  /** Mount path; clients use the same `path`. Default `/peerjs`. */
  path?: string;
  /** Require tokens made by `signToken` with this secret (at least 16 bytes). */
  secret?: string | Uint8Array;
  /** Or decide yourself: called before an id registers; false, a throw or a rejection refuses it. */
  verify?: (userId: string, token: string) => boolean | Promise<boolean>;
  /** How long an offer for an offline id waits for it to register. Default 60000 ms (PeerServer's own: 5000). */
  expireTimeoutMs?: number;
  /** How long a client may stay silent before its id is freed; PeerJS pings every 5 s. Default 30000 ms (PeerServer's own: 90000). */
  aliveTimeoutMs?: number;
  /** At most this many registered clients; the next gets an `ERROR`. Default 5000 (PeerServer's own). */
  concurrentLimit?: number;
  /**
   * Join the cluster of servers sharing this Redis (`redis://host:port`): one holder per id across
   * them all, connections brokered between clients of different servers, and offers for an offline
   * id delivered on whichever server it registers. Registrations are refused while Redis is
   * unreachable. Needs the `redis` package.
   */
  redisUrl?: string;
  /**
   * Web Push: ring an invitee who has no tab open on the devices it subscribed (README, "Ring with
   * no tab open"). Needs the `web-push` package.
   */
  push?: PushOptions;
}

export interface RunningPeerServer {
  /** The port it listens on (the chosen one when `port` was 0). */
  readonly port: number;
  /** Closes every client socket, stops PeerServer's timers and frees the port. Safe to call twice. */
  close(): Promise<void>;
}

/** The text of the `ERROR` a refused client receives; the plugin maps a message starting with `UNAUTHORIZED` to its code. */
export const UNAUTHORIZED_MESSAGE = 'UNAUTHORIZED: no valid token for this id';
/** The text of the `ERROR` a client receives when the cluster's registry (Redis) cannot be reached: no id registers then. */
export const REGISTRY_UNAVAILABLE_MESSAGE = 'SERVER_UNAVAILABLE: the id registry cannot be reached';

const DEFAULTS = { path: '/peerjs', expireTimeoutMs: 60_000, aliveTimeoutMs: 30_000, concurrentLimit: 5000 };

/** Starts a PeerServer that registers an id only for a client whose token verifies (when `secret` or `verify` is given). */
export function startPeerServer(options: StartPeerServerOptions): Promise<RunningPeerServer> {
  const { secret, verify } = options;
  if (secret !== undefined && verify !== undefined) throw new TypeError('startPeerServer: give `secret` or `verify`, not both');
  if (secret !== undefined) verifyToken({ secret, userId: 'check', token: '' }); // throws on a secret too short to be safe
  if (options.push) checkPushOptions(options.push); // a bad key pair fails the start at once, as a bad secret does
  const check = secret !== undefined ? (userId: string, token: string) => verifyToken({ secret, userId, token }) : verify;
  const settings = { ...DEFAULTS, ...definedOnly(options), port: options.port, check };
  return start(settings, options.redisUrl, options.push);
}

async function start(settings: Settings, redisUrl: string | undefined, pushOptions: PushOptions | undefined): Promise<RunningPeerServer> {
  let push: ServerPush | undefined;
  const cluster = redisUrl === undefined ? undefined : await joinCluster({ redisUrl, expireTimeoutMs: settings.expireTimeoutMs, onParked: (message) => push?.push.parked(message) });
  try {
    if (pushOptions) push = await startServerPush(pushOptions, cluster);
    return await listen(settings, cluster, push);
  } catch (error) {
    await push?.push.close();
    await cluster?.close();
    throw error;
  }
}

type Check = (userId: string, token: string) => boolean | Promise<boolean>;
type Settings = typeof DEFAULTS & StartPeerServerOptions & { check: Check | undefined };

function listen({ port, host, path, expireTimeoutMs, aliveTimeoutMs, concurrentLimit, check }: Settings, cluster: Cluster | undefined, push: ServerPush | undefined): Promise<RunningPeerServer> {
  return new Promise((resolve, reject) => {
    const timers = peerServerTimers();
    const waiting = new Set<Duplex>();
    let httpServer: Server | undefined;
    let sockets: WebSocketServer | undefined;
    let closing: Promise<void> | undefined;

    const close = (): Promise<void> => {
      closing ??= (async () => {
        timers.stop();
        await push?.push.close();
        // Released first: other nodes may register these ids at once.
        await cluster?.close();
        for (const socket of waiting) socket.destroy();
        for (const client of sockets?.clients ?? []) client.terminate();
        if (!httpServer?.listening) return;
        await new Promise<void>((done) => {
          httpServer!.close(() => done());
          httpServer!.closeAllConnections();
        });
      })();
      return closing;
    };

    /** Takes the upgrade over from PeerServer's own `ws` server, to check the token first. */
    const createWebSocketServer = (wsOptions: ServerOptions): WebSocketServer => {
      const server = wsOptions.server as Server;
      httpServer = server;
      const webSockets = new WebSocketServer({ noServer: true, ...(cluster ? { WebSocket: RoutedWebSocket } : {}) });
      sockets = webSockets;
      server.on('error', (error) => {
        // Before it listens (a port in use, say) the start fails; later errors are the connection's own.
        if (server.listening) return;
        void close();
        reject(error);
      });
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        void admit({ request, socket, head, webSockets, wsPath: wsOptions.path ?? '', check, waiting, cluster });
      });
      return webSockets;
    };

    const app = timers.during(() =>
      PeerServer(
        {
          port,
          host,
          path,
          expire_timeout: expireTimeoutMs,
          alive_timeout: aliveTimeoutMs,
          concurrent_limit: concurrentLimit,
          createWebSocketServer,
        },
        (server) => {
          const address = server.address();
          resolve({ port: typeof address === 'object' && address ? address.port : port, close });
        },
      ),
    );
    // One client's socket failing (a reset, a frame that is not JSON) is that client's problem, not the server's.
    app.on('error', () => {});
    push?.attach(app as unknown as PeerServerApp, path);
  });
}

interface Admission {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  webSockets: WebSocketServer;
  wsPath: string;
  check: Check | undefined;
  waiting: Set<Duplex>;
  cluster: Cluster | undefined;
}

/** Completes the upgrade; hands the socket to PeerServer only if its token verifies (or no check is set). */
async function admit({ request, socket, head, webSockets, wsPath, check, waiting, cluster }: Admission): Promise<void> {
  // Node's HTTP server stops listening for this socket's errors at the upgrade: unhandled, one reset during the check would end the process.
  socket.on('error', () => socket.destroy());
  const url = new URL(request.url ?? '', 'http://peerjs');
  if (url.pathname !== wsPath) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  const userId = url.searchParams.get('id');
  const token = url.searchParams.get('token');
  let allowed = true;
  let claim: ClaimResult | undefined;
  // Without an id or token there is nothing to check: PeerServer refuses it with its own ERROR.
  if (userId && token) {
    waiting.add(socket);
    try {
      allowed = check ? (await check(userId, token)) === true : true;
    } catch {
      allowed = false;
    }
    // The id is claimed cluster-wide before PeerServer registers it.
    if (allowed && cluster) claim = await cluster.claim(userId, token);
    waiting.delete(socket);
  }
  if (socket.destroyed) {
    if (claim === 'claimed') void cluster!.release(userId!, token!);
    return;
  }
  webSockets.handleUpgrade(request, socket, head, (webSocket) => {
    if (!allowed) refuse(webSocket, { type: 'ERROR', payload: { msg: UNAUTHORIZED_MESSAGE } });
    else if (claim === 'unavailable') refuse(webSocket, { type: 'ERROR', payload: { msg: REGISTRY_UNAVAILABLE_MESSAGE } });
    // What PeerServer itself answers when the id is held with another token.
    else if (claim === 'taken') refuse(webSocket, { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
    else {
      if (claim === 'claimed') cluster!.hold(userId!, token!, webSocket as RoutedWebSocket);
      webSockets.emit('connection', webSocket, request);
    }
  });
}

function refuse(webSocket: { send(data: string): void; close(): void }, message: object): void {
  webSocket.send(JSON.stringify(message));
  webSocket.close();
}

/**
 * PeerServer has no stop API, and its two housekeeping loops (broken-connection
 * check, expiry of parked offers) each re-arm a `setTimeout` from inside the
 * last one, forever. This follows that chain of timers from the moment the
 * server is created, so that `close()` can clear them and let the process exit.
 */
function peerServerTimers() {
  const live = new Map<number, NodeJS.Timeout>();
  let creating = false;
  const hook = createHook({
    init(asyncId, type, triggerAsyncId, resource) {
      if (type === 'Timeout' && (creating || live.has(triggerAsyncId))) live.set(asyncId, resource as NodeJS.Timeout);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  return {
    during<T>(create: () => T): T {
      creating = true;
      try {
        return create();
      } finally {
        creating = false;
      }
    },
    stop(): void {
      hook.disable();
      for (const timer of live.values()) clearTimeout(timer);
      live.clear();
    },
  };
}

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
