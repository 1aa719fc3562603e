/**
 * Where push meets the companion server: PUSH-SUBSCRIBE/UNSUBSCRIBE served by the switchboard
 * (within the client's `push` rate), the OFFERs its mailbox parks (on one node or in a cluster
 * alike), the VAPID public key as push's part of SERVER-INFO, the push rate per inviter from the
 * client limits, each push's outcome in the metrics, and the decline endpoint.
 */
import { posix } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientLimits } from '../limits.js';
import type { Counter } from '../metrics.js';
import type { ServerInfoSender } from '../server-info.js';
import type { Switchboard } from '../switchboard.js';
import { copyOf, createPush, type Declined, type Push, type PushOptions, type PushResult } from './index.js';
import type { RedisCommands } from './subscriptions.js';

/** The slice of PeerServer's Express app used here. */
export interface PeerServerApp {
  all(path: string, handler: (request: IncomingMessage, response: ServerResponse) => void): unknown;
}

/** What a cluster offers push: its Redis, and where an id is registered. */
export interface PushCluster {
  readonly redis: RedisCommands;
  isRegistered(userId: string): Promise<boolean>;
  /** `listener` hears on every node (this one too) what the returned function sends on channel `name`. */
  channel(name: string, listener: (message: string) => void): Promise<(message: string) => Promise<void>>;
}

export interface PushParts {
  switchboard: Switchboard;
  limits: ClientLimits;
  serverInfo: ServerInfoSender;
  pushesSent: Counter;
  cluster: PushCluster | undefined;
}

export interface ServerPush {
  push: Push;
  /** Serves the decline endpoint on PeerServer's app, mounted at `path`. */
  attach(app: PeerServerApp, path: string): void;
}

export async function startServerPush(options: PushOptions, { switchboard, limits, serverInfo, pushesSent, cluster }: PushParts): Promise<ServerPush> {
  const warn413 = (result: PushResult) => {
    if (result.status === 413) console.warn(`peer-invitation push: payload too large for ${new URL(result.endpoint).host} (a bug: please report)`);
  };
  // A declined invitation may wait on any node (the inviter's at the time): each drops its own copies.
  const dropHere = (declined: Declined) => void switchboard.dropParked(declined.inviteeID, (message) => copyOf(declined, message));
  const dropEverywhere = cluster
    ? await cluster.channel('push:declined', (text) => {
        const declined = readDeclined(text);
        if (declined) dropHere(declined);
      })
    : undefined;
  const push = await createPush(
    {
      ...options,
      onResult: (result) => {
        pushesSent.inc({ kind: result.kind, status: String(result.status) });
        (options.onResult ?? warn413)(result);
      },
    },
    {
      isRegistered: (userId) => (cluster ? cluster.isRegistered(userId) : Promise.resolve(switchboard.clients.has(userId))),
      sendOrPark: (frame) => switchboard.sendOrPark(frame),
      dropDeclined: (declined) => (dropEverywhere ? void dropEverywhere(JSON.stringify(declined)).catch(() => dropHere(declined)) : dropHere(declined)),
      // Over the rate: no push (the OFFER still waits), and it counts as the inviter's violation.
      admitPush: (inviterID) => limits.admit(inviterID, 'push') === 'admitted',
      ...(cluster ? { redis: cluster.redis } : {}),
    },
  );
  const served = { kind: 'push' as const, handle: (userId: string, message: { type: string; payload?: unknown }, reply: (frame: object) => void) => void push.frame(userId, message, reply) };
  switchboard.serve('PUSH-SUBSCRIBE', served);
  switchboard.serve('PUSH-UNSUBSCRIBE', served);
  switchboard.onParked = (message) => push.parked(message);
  serverInfo.add(() => ({ payload: { push: { publicKey: push.publicKey } } }));
  return {
    push,
    attach(app, path) {
      app.all(posix.join(path, 'push/decline'), (request, response) => push.http(request, response));
    },
  };
}

/** A declined invitation as another node published it; undefined for anything else. */
function readDeclined(text: string): Declined | undefined {
  try {
    const { invitationID, inviterID, inviteeID } = JSON.parse(text) as Partial<Declined>;
    if (typeof invitationID === 'string' && typeof inviterID === 'string' && typeof inviteeID === 'string') return { invitationID, inviterID, inviteeID };
  } catch {
    // Only nodes publish here; a message that is not JSON is not ours to read.
  }
  return undefined;
}
