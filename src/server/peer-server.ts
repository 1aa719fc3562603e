/**
 * The companion PeerServer: the `peer` package's own server, with the WebSocket upgrade taken
 * over (through its `createWebSocketServer` hook) so that a client is checked before its id
 * registers (upgrade.ts), and each registered client's messages routed within its limits
 * (switchboard.ts, limits.ts) instead of PeerServer's unbounded relay and mailbox.
 */
import { createHook } from 'node:async_hooks';
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import { PeerServer } from 'peer';
import { WebSocketServer, type ServerOptions } from 'ws';
import { joinCluster, type Cluster } from './cluster/index.js';
import { withoutUndefined } from '../core/objects.js';
import { ClientLimits, resolveServerLimits, type ServerLimitOptions } from './limits.js';
import { Mailbox } from './mailbox.js';
import { createMetrics, serverCounters, type Metrics } from './metrics.js';
import { startServerPush, type ServerPush } from './push/attach.js';
import { checkPushOptions, type PushOptions } from './push/index.js';
import { serveRelay } from './relay.js';
import { RoutedWebSocket } from './routed-web-socket.js';
import { checkTurnOptions, ServerInfoSender, turnPart, type TurnOptions } from './server-info.js';
import { Switchboard } from './switchboard.js';
import { verifyToken } from './tokens.js';
import { upgrade, type Check } from './upgrade.js';

export { UNAUTHORIZED_MESSAGE, REGISTRY_UNAVAILABLE_MESSAGE, RATE_LIMITED_MESSAGE } from './upgrade.js';

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
  /** What one client may cost the server: rates, frame size, send buffer, mailbox quotas (`DEFAULT_SERVER_LIMITS`). */
  limits?: ServerLimitOptions;
  /** Serve `GET <path>/metrics` (Prometheus text) to requests with `Authorization: Bearer <metricsToken>`. Default: not served. */
  metricsToken?: string;
  /** Behind a reverse proxy: a client's address (for the handshake rate) is the last `X-Forwarded-For` entry. Default false. */
  proxied?: boolean;
  /**
   * Web Push: ring an invitee who has no tab open on the devices it subscribed (README, "Ring with
   * no tab open"). Needs the `web-push` package.
   */
  push?: PushOptions;
  /**
   * Relay protocol messages between registered clients through this server, for peers no data
   * channel reaches (PROTOCOL.md, RELAY). The server can read what it relays. Default true.
   */
  relay?: boolean;
  /** Hand each registered client short-lived credentials for these TURN servers, in its SERVER-INFO. */
  turn?: TurnOptions;
}

export interface RunningPeerServer {
  /** The port it listens on (the chosen one when `port` was 0). */
  readonly port: number;
  /** Its counters and gauges (what `GET <path>/metrics` shows); `metrics.counter(name, help)` adds one. */
  readonly metrics: Metrics;
  /** Closes every client socket, stops PeerServer's timers and frees the port. Safe to call twice. */
  close(): Promise<void>;
}

const DEFAULTS = { path: '/peerjs', expireTimeoutMs: 60_000, aliveTimeoutMs: 30_000, concurrentLimit: 5000, proxied: false, relay: true };

type Settings = typeof DEFAULTS & StartPeerServerOptions & { check: Check | undefined };

/** The parts every client passes through, one of each per server. */
interface Parts {
  limits: ClientLimits;
  mailbox: Mailbox;
  switchboard: Switchboard;
  metrics: Metrics;
  counters: ReturnType<typeof serverCounters>;
  serverInfo: ServerInfoSender;
  cluster: Cluster | undefined;
}

/** Starts a PeerServer that registers an id only for a client whose token verifies (when `secret` or `verify` is given). */
export function startPeerServer(options: StartPeerServerOptions): Promise<RunningPeerServer> {
  const { secret, verify } = options;
  if (secret !== undefined && verify !== undefined) throw new TypeError('startPeerServer: give `secret` or `verify`, not both');
  if (secret !== undefined) verifyToken({ secret, userId: 'check', token: '' }); // throws on a secret too short to be safe
  if (options.push) checkPushOptions(options.push); // a bad key pair fails the start at once, as a bad secret does
  if (options.turn !== undefined) checkTurnOptions(options.turn);
  if (options.metricsToken !== undefined && options.metricsToken.length < 16) throw new TypeError('startPeerServer: `metricsToken` must be at least 16 characters');
  const check = secret !== undefined ? (userId: string, token: string) => verifyToken({ secret, userId, token }) : verify;
  const settings: Settings = { ...DEFAULTS, ...withoutUndefined(options), port: options.port, check };
  return listen(settings, assemble(settings));
}

function assemble({ limits: limitOptions, expireTimeoutMs, relay, turn }: Settings): Omit<Parts, 'cluster'> {
  const metrics = createMetrics();
  const counters = serverCounters(metrics);
  const limits = new ClientLimits(resolveServerLimits(limitOptions));
  let switchboard: Switchboard | undefined;
  const mailbox = new Mailbox({ quotas: limits.limits.mailbox, expireTimeoutMs, onExpired: (expired) => switchboard?.expired(expired) });
  switchboard = new Switchboard({ limits, mailbox, counters });
  limits.onCutOff((clientId) => {
    counters.cutOffs.inc();
    switchboard.clients.get(clientId)?.terminate();
  });
  metrics.gauge('peer_invitation_registered_clients', 'Clients registered on this server', () => switchboard.clients.size);
  metrics.gauge('peer_invitation_cut_off_clients', 'Client ids cut off now, for their cool-down', () => limits.cutOffCount);
  metrics.gauge('peer_invitation_mailbox_messages', 'Messages parked for ids registered nowhere', () => mailbox.messages);
  metrics.gauge('peer_invitation_mailbox_bytes', 'Bytes parked for ids registered nowhere', () => mailbox.bytes);
  metrics.gauge('process_resident_memory_bytes', 'Resident set size of this process', () => process.memoryUsage.rss());
  // The relay and TURN: RELAY frames served on the switchboard; their parts of SERVER-INFO (push adds its own).
  serveRelay({ enabled: relay, maxPayloadBytes: limits.limits.maxRelayBytes, switchboard, refused: (reason) => counters.refusals.inc({ reason: `relay_${reason}` }) });
  const serverInfo = new ServerInfoSender();
  serverInfo.add(() => ({ payload: { relay } }));
  if (turn !== undefined) serverInfo.add(turnPart(turn));
  return { limits, mailbox, switchboard, metrics, counters, serverInfo };
}

async function listen(settings: Settings, parts: Omit<Parts, 'cluster'>): Promise<RunningPeerServer> {
  const { limits, mailbox, switchboard, metrics, counters, serverInfo } = parts;
  let cluster: Cluster | undefined;
  let push: ServerPush | undefined;
  try {
    if (settings.redisUrl !== undefined) cluster = await joinCluster({ redisUrl: settings.redisUrl, switchboard, mailbox, counters });
    if (settings.push) push = await startServerPush(settings.push, { switchboard, limits, serverInfo, pushesSent: counters.pushesSent, cluster });
  } catch (error) {
    limits.close();
    mailbox.close();
    await cluster?.close();
    throw error;
  }
  const { port, host, path, expireTimeoutMs, aliveTimeoutMs, concurrentLimit, check, proxied } = settings;
  return new Promise((resolve, reject) => {
    const timers = peerServerTimers();
    const waiting = new Set<Duplex>();
    let httpServer: Server | undefined;
    let sockets: WebSocketServer | undefined;
    let closing: Promise<void> | undefined;

    const close = (): Promise<void> => {
      closing ??= (async () => {
        timers.stop();
        serverInfo.close();
        await push?.push.close();
        limits.close();
        mailbox.close();
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

    /** Takes the upgrade over from PeerServer's own `ws` server, to check the client first. */
    const createWebSocketServer = (wsOptions: ServerOptions): WebSocketServer => {
      const server = wsOptions.server as Server;
      httpServer = server;
      const webSockets = new WebSocketServer({ noServer: true, WebSocket: RoutedWebSocket, maxPayload: limits.limits.maxFrameBytes });
      sockets = webSockets;
      server.on('error', (error) => {
        // Before it listens (a port in use, say) the start fails; later errors are the connection's own.
        if (server.listening) return;
        void close();
        reject(error);
      });
      const context = { webSockets, wsPath: wsOptions.path ?? '', check, waiting, cluster, limits, counters, switchboard, proxied };
      server.on('upgrade', (request, socket: Duplex, head: Buffer) => void upgrade(request, socket, head, context));
      return webSockets;
    };

    const app = timers.during(() =>
      PeerServer(
        { port, host, path, expire_timeout: expireTimeoutMs, alive_timeout: aliveTimeoutMs, concurrent_limit: concurrentLimit, createWebSocketServer },
        (server) => {
          const address = server.address();
          resolve({ port: typeof address === 'object' && address ? address.port : port, metrics, close });
        },
      ),
    );
    app.on('connection', (client) => {
      const socket = client.getSocket() as RoutedWebSocket;
      // What the server offers comes right after OPEN, before what waited for this id.
      serverInfo.registered(client.getId(), socket, (message) => socket.send(JSON.stringify(message)));
      // Renewals stop with this socket (PeerServer's disconnect may come after it let go of the socket).
      socket.once('close', () => serverInfo.left(client.getId(), socket));
      switchboard.registered(client.getId(), socket);
    });
    app.on('disconnect', (client) => {
      switchboard.unregistered(client.getId(), client.getSocket());
    });
    // One client's socket failing (a reset, a frame too large) is that client's problem, not the server's.
    app.on('error', () => {});
    push?.attach(app, path);
    if (settings.metricsToken !== undefined) serveMetrics(app, posix.join(path, 'metrics'), settings.metricsToken, metrics);
  });
}

/** `GET <path>/metrics` for a request bearing the metrics token; 401 for any other. */
function serveMetrics(app: ReturnType<typeof PeerServer>, route: string, token: string, metrics: Metrics): void {
  const expected = Buffer.from(`Bearer ${token}`);
  app.get(route, (request, response) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      response.status(401).set('WWW-Authenticate', 'Bearer').end();
      return;
    }
    response.set('Content-Type', 'text/plain; version=0.0.4; charset=utf-8').send(metrics.render());
  });
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
