/**
 * The WebSocket upgrade, taken over from PeerServer: the client's IP address within its
 * handshake rate, its token verified, its id within its registration rate and not cut off, and
 * (in a cluster) claimed, all before PeerServer sees the socket. A refused client gets its
 * WebSocket, one PeerJS `ERROR` message, and a close: PeerJS reports that as a `server-error`
 * the plugin recognises (an HTTP 401 would reach it as a bare `network` error).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Cluster, ClaimResult } from './cluster/index.js';
import type { ClientLimits } from './limits.js';
import type { ServerCounters } from './metrics.js';
import type { RoutedWebSocket } from './routed-web-socket.js';
import type { Switchboard } from './switchboard.js';

/** The text of the `ERROR` a refused client receives; the plugin maps a message starting with `UNAUTHORIZED` to its code. */
export const UNAUTHORIZED_MESSAGE = 'UNAUTHORIZED: no valid token for this id';
/** The text of the `ERROR` a client receives when the cluster's registry (Redis) cannot be reached: no id registers then. */
export const REGISTRY_UNAVAILABLE_MESSAGE = 'SERVER_UNAVAILABLE: the id registry cannot be reached';
/** The text of the `ERROR` a client receives when its id registers too often, or is cut off for a cool-down. */
export const RATE_LIMITED_MESSAGE = 'RATE_LIMITED: too many registrations or violations for this id; try again later';

export type Check = (userId: string, token: string) => boolean | Promise<boolean>;

export interface UpgradeContext {
  webSockets: WebSocketServer;
  wsPath: string;
  check: Check | undefined;
  /** Sockets whose token is being checked: closed with the server. */
  waiting: Set<Duplex>;
  cluster: Cluster | undefined;
  limits: ClientLimits;
  counters: ServerCounters;
  switchboard: Switchboard;
  /** Take the client's address from the last `X-Forwarded-For` entry (behind a proxy that sets it). */
  proxied: boolean;
}

/** Completes the upgrade; hands the socket to PeerServer only if every check passes. */
export async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, context: UpgradeContext): Promise<void> {
  const { webSockets, wsPath, check, waiting, cluster, limits, counters } = context;
  // Node's HTTP server stops listening for this socket's errors at the upgrade: unhandled, one reset during the check would end the process.
  socket.on('error', () => socket.destroy());
  const url = new URL(request.url ?? '', 'http://peerjs');
  if (url.pathname !== wsPath) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  if (!limits.admitHandshake(addressOf(request, context.proxied))) {
    counters.refusals.inc({ reason: 'handshake_rate' });
    socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\n\r\n');
    return;
  }
  const userId = url.searchParams.get('id');
  const token = url.searchParams.get('token');
  let refusal: object | undefined;
  let claim: ClaimResult | undefined;
  // Without an id or token there is nothing to check: PeerServer refuses it with its own ERROR.
  if (userId && token) {
    waiting.add(socket);
    let allowed: boolean;
    try {
      allowed = check ? (await check(userId, token)) === true : true;
    } catch {
      allowed = false;
    }
    // Only a verified client spends its id's registrations: nobody else can lock an id out.
    const admission = allowed ? limits.admit(userId, 'register') : undefined;
    if (!allowed) refusal = refused('unauthorized', UNAUTHORIZED_MESSAGE);
    else if (admission !== 'admitted') refusal = refused(admission === 'limited' ? 'registration_rate' : 'cut_off', RATE_LIMITED_MESSAGE);
    // The id is claimed cluster-wide before PeerServer registers it.
    else if (cluster) claim = await cluster.claim(userId, token);
    if (claim === 'unavailable') refusal = refused('registry_unavailable', REGISTRY_UNAVAILABLE_MESSAGE);
    // What PeerServer itself answers when the id is held with another token.
    else if (claim === 'taken') refusal = { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } };
    waiting.delete(socket);
  }
  if (socket.destroyed) {
    if (claim === 'claimed') void cluster!.release(userId!, token!);
    return;
  }
  webSockets.handleUpgrade(request, socket, head, (accepted) => {
    const webSocket = accepted as RoutedWebSocket;
    watch(webSocket, userId ?? '', context);
    if (refusal) return refuse(webSocket, refusal);
    if (claim === 'claimed') cluster!.hold(userId!, token!, webSocket);
    webSockets.emit('connection', webSocket, request);
  });

  function refused(reason: string, msg: string): object {
    counters.refusals.inc({ reason });
    return { type: 'ERROR', payload: { msg } };
  }
}

/** A frame over `maxFrameBytes` (ws closes the socket, reading none of it) is a violation, if this socket holds its id; a slow reader is counted as it is closed. */
function watch(webSocket: RoutedWebSocket, userId: string, { limits, counters, switchboard }: UpgradeContext): void {
  webSocket.maxBufferedBytes = limits.limits.maxBufferedBytes;
  webSocket.onSlowReader = () => counters.refusals.inc({ reason: 'slow_reader' });
  webSocket.on('error', (error: Error & { code?: string }) => {
    if (error.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return;
    // ws would wait for the closing handshake, reading (and dropping) the rest of the frame meanwhile.
    webSocket.terminate();
    counters.refusals.inc({ reason: 'frame_too_large' });
    if (switchboard.clients.get(userId) === webSocket) limits.violation(userId, 'a frame over maxFrameBytes');
  });
}

function addressOf(request: IncomingMessage, proxied: boolean): string {
  const forwarded = proxied ? request.headers['x-forwarded-for'] : undefined;
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
  return last || request.socket.remoteAddress || 'unknown';
}

function refuse(webSocket: { send(data: string): void; close(): void }, message: object): void {
  webSocket.send(JSON.stringify(message));
  webSocket.close();
}
