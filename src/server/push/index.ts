/**
 * Web Push for the companion server. When an invitation that asks to notify is parked for an
 * invitee with no registered socket, each of the invitee's push subscriptions gets one push
 * (`Urgency: high`, `TTL` = the seconds the invitation has left, a `Topic` per invitation); a
 * cancel or the deadline of a pushed invitation sends a replacing "missed call". Subscriptions
 * arrive over the client's authenticated PeerServer socket (PUSH-SUBSCRIBE); a decline comes
 * back over HTTP (`<path>/push/decline`) and reaches the inviter as a relayed `refuse`.
 * Nothing here waits on a push service before the mailbox goes on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent } from 'node:https';
import { capabilityKey, memoryMarks, redisMarks, signDecline, verifyDecline, type Marks } from './capability.js';
import { cut, topicOf, type MissedPayload, type RingPayload } from './payload.js';
import { createSender, type PushResult } from './sender.js';
import { checkSubscription, memorySubscriptions, redisSubscriptions, type RedisCommands, type StoredSubscription, type SubscriptionStore } from './subscriptions.js';
import { checkVapidKeys, type VapidKeys } from './vapid.js';

export type { PushResult } from './sender.js';
export type { VapidKeys } from './vapid.js';
export { generateVapidKeys, readVapidKeyFile, writeVapidKeyFile } from './vapid.js';
export { KNOWN_PUSH_HOSTS } from './subscriptions.js';

export interface PushOptions {
  /** The server's VAPID key pair, base64url, as web-push (or `peer-invitation-server generate-vapid-keys`) makes them. */
  vapidKeys: VapidKeys;
  /** Who runs this server, for the push services: `mailto:` or `https:` (RFC 8292). */
  subject: string;
  /** URL prefixes a subscription's endpoint must start with (https only). Default: the known push services' hosts. */
  allowedEndpoints?: string[];
  /** Subscriptions kept per user (devices, browsers); one more is refused `too-many`. Default 10. */
  maxSubscriptionsPerUser?: number;
  /** The HTTPS agent for requests to push services (tests give one trusting their own CA). */
  agent?: Agent;
  /** Hears the outcome of each push sent (metrics, logs). Default: a 413 is written to the console, as a bug. */
  onResult?: (result: PushResult) => void;
}

/** What the server around it provides: where an id is registered, its mailbox, its client limits. */
export interface PushHost {
  isRegistered(userId: string): Promise<boolean>;
  /** Sends `frame` to `frame.dst` wherever it is registered, or parks it in the mailbox like a client's message. */
  sendOrPark(frame: { type: string; src: string; dst: string; payload: unknown }): Promise<'sent' | 'parked' | 'full'>;
  /** Takes out of the mailbox, on every node, what waits of a declined invitation (`copyOf` says what). */
  dropDeclined(declined: Declined): void;
  /** May `inviterID` have one more invitee rung now? (The client limits' `push` rate.) */
  admitPush(inviterID: string): boolean;
  /** The cluster's Redis, when there is one: subscriptions and marks are kept there. */
  redis?: RedisCommands;
}

export interface Push {
  readonly publicKey: string;
  /** A PUSH-SUBSCRIBE or PUSH-UNSUBSCRIBE from the registered client `userId`; answers with `reply`. False for any other frame. */
  frame(userId: string, message: { type?: unknown; payload?: unknown }, reply: (frame: object) => void): boolean;
  /** A message (an OFFER, or a RELAY) for an id registered nowhere has just been parked. */
  parked(message: { type: string; src: string; dst: string; payload?: unknown }): void;
  /** Handles `<path>/push/decline` (POST and its CORS preflight). */
  http(request: IncomingMessage, response: ServerResponse): void;
  close(): Promise<void>;
}

const PREFIX = 'peer-invitation:';
const MAX_BODY_BYTES = 4096;
/** How long a missed-call push may wait at the push service for a device to come online. */
const MISSED_TTL_SECONDS = 12 * 3600;

/** A rung invitation, kept cluster-wide (the value of its `pushed:` mark) so a cancel on any node sends the missed call. */
interface Pushed {
  invitationID: string;
  inviterID: string;
  inviteeID: string;
  inviterName: string;
  type: number;
  deadline: number;
}

/** An invitation its invitee declined from a push notification. */
export interface Declined {
  invitationID: string;
  inviterID: string;
  inviteeID: string;
}

interface Invite {
  kind: 'invite' | 'cancel';
  invitationID: string;
  inviterName?: string;
  type?: number;
  remainingMs: number;
  notification?: { title?: unknown; message?: unknown };
}

/** Throws a TypeError for a key pair that does not match or a subject that is not `mailto:` or `https:`. */
export function checkPushOptions(options: PushOptions): void {
  checkVapidKeys(options.vapidKeys);
  if (typeof options.subject !== 'string' || !/^(mailto:|https:)/.test(options.subject)) throw new TypeError('push.subject must be a mailto: or https: URL');
}

export async function createPush(options: PushOptions, host: PushHost): Promise<Push> {
  checkPushOptions(options);
  const maxPerUser = options.maxSubscriptionsPerUser ?? 10;
  const subscriptions: SubscriptionStore = host.redis ? redisSubscriptions(host.redis, maxPerUser, PREFIX) : memorySubscriptions(maxPerUser);
  const marks: Marks = host.redis ? redisMarks(host.redis, PREFIX) : memoryMarks();
  const key = capabilityKey(options.vapidKeys.privateKey);
  const onResult =
    options.onResult ??
    ((result: PushResult) => {
      if (result.status === 413) console.warn(`peer-invitation push: payload too large for ${new URL(result.endpoint).host} (a bug: please report)`);
    });
  const sender = await createSender({ vapidKeys: options.vapidKeys, subject: options.subject, agent: options.agent, onResult });
  /** The deadline timers of invitations rung from this node. */
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const keyOf = (inviteeID: string, invitationID: string) => `${inviteeID}\n${invitationID}`;
  const stopTimer = (id: string) => {
    clearTimeout(timers.get(id));
    timers.delete(id);
  };
  const rung = async (id: string): Promise<Pushed | undefined> => {
    const text = await marks.get(`pushed:${id}`);
    if (text === undefined || text === '') return undefined;
    return JSON.parse(text) as Pushed;
  };

  const sendAll = async (userId: string, payload: RingPayload | MissedPayload, ttlSeconds: () => number, urgency: 'high' | 'normal'): Promise<void> => {
    const topic = topicOf(payload.invitationID, userId);
    const body = JSON.stringify(payload);
    for (const subscription of await subscriptions.list(userId)) {
      void sender.send({ userId, subscription, body, topic, urgency, ttlSeconds, invitationID: payload.invitationID, kind: payload.kind }).then((gone) => {
        if (gone) return subscriptions.remove(userId, subscription.endpoint);
      }).catch(() => {});
    }
  };

  const ring = async (inviterID: string, inviteeID: string, invite: Invite): Promise<void> => {
    const deadline = Date.now() + invite.remainingMs;
    const id = keyOf(inviteeID, invite.invitationID);
    const entry: Pushed = { invitationID: invite.invitationID, inviterID, inviteeID, inviterName: cut(invite.inviterName) ?? '', type: invite.type ?? 0, deadline };
    if ((await subscriptions.list(inviteeID)).length === 0 || closed) return;
    // A retried OFFER carries the same invite: pushed once, cluster-wide (and only that once counts against the rate).
    if ((await marks.has(`pushed:${id}`)) || !host.admitPush(inviterID)) return;
    if (!(await marks.mark(`pushed:${id}`, invite.remainingMs + 60_000, JSON.stringify(entry)))) return;
    timers.set(id, setTimeout(() => void missed(id, 'timeout').catch(() => {}), invite.remainingMs).unref());
    const payload: RingPayload = {
      v: 1,
      kind: 'ring',
      invitationID: entry.invitationID,
      inviterID,
      inviterName: entry.inviterName,
      type: entry.type,
      deadline,
      ...(cut(invite.notification?.title) !== undefined ? { title: cut(invite.notification?.title) } : {}),
      ...(cut(invite.notification?.message) !== undefined ? { message: cut(invite.notification?.message) } : {}),
      decline: signDecline(key, { invitationID: entry.invitationID, inviterID, inviteeID, until: deadline }),
    };
    await sendAll(inviteeID, payload, () => Math.floor((deadline - Date.now()) / 1000), 'high');
  };

  /**
   * The replacing push of a rung invitation (on whichever node hears the cancel, or on the one that
   * rang it at its deadline), once cluster-wide, unless the invitee declined it or is registered
   * now (its app has the invitation).
   */
  const missed = async (id: string, reason: MissedPayload['reason']): Promise<void> => {
    stopTimer(id);
    const entry = await rung(id);
    if (!entry || closed || (await marks.has(`declined:${id}`))) return;
    if (!(await marks.mark(`missed:${id}`, Math.max(1, entry.deadline - Date.now()) + 60_000))) return;
    if (await host.isRegistered(entry.inviteeID).catch(() => false)) return;
    const { invitationID, inviterID, inviterName, type } = entry;
    await sendAll(entry.inviteeID, { v: 1, kind: 'missed', invitationID, inviterID, inviterName, type, reason }, () => MISSED_TTL_SECONDS, 'normal');
  };

  /**
   * A copy of an invitation its invitee already declined, parked after the decline (the inviter's
   * plugin retried its OFFER before it heard the refuse), is taken out as well, and the inviter hears
   * EXPIRE again: else that OFFER would ring the declined call when the app opens, and hold the
   * inviter's connection (and what it owes the invitee next) until it expires.
   */
  const dropIfDeclined = async (inviterID: string, inviteeID: string, invitationID: string): Promise<void> => {
    if (await marks.has(`declined:${keyOf(inviteeID, invitationID)}`)) host.dropDeclined({ invitationID, inviterID, inviteeID });
  };

  const decline = async (capability: unknown): Promise<{ status: number; body: object }> => {
    const granted = verifyDecline(key, capability);
    if (!granted) return { status: 403, body: { ok: false, reason: 'invalid' } };
    const id = keyOf(granted.inviteeID, granted.invitationID);
    if (!(await marks.mark(`declined:${id}`, granted.until - Date.now() + 60_000))) return { status: 409, body: { ok: false, reason: 'used' } };
    stopTimer(id);
    // What rang must not ring again when the invitee's app opens: the OFFER, and its copy through the relay.
    host.dropDeclined({ invitationID: granted.invitationID, inviterID: granted.inviterID, inviteeID: granted.inviteeID });
    const refuse = { v: 2, kind: 'refuse', invitationID: granted.invitationID, data: '', remainingMs: Math.max(1, granted.until - Date.now()) };
    const outcome = await host.sendOrPark({ type: 'RELAY', src: granted.inviteeID, dst: granted.inviterID, payload: refuse }).catch(() => 'full' as const);
    return { status: 200, body: { ok: true, refuse: outcome } };
  };

  return {
    publicKey: options.vapidKeys.publicKey,

    frame(userId, message, reply) {
      if (message.type !== 'PUSH-SUBSCRIBE' && message.type !== 'PUSH-UNSUBSCRIBE') return false;
      const payload = (typeof message.payload === 'object' && message.payload !== null ? message.payload : {}) as { subscription?: unknown; endpoint?: unknown };
      const answer = (endpoint: unknown, outcome: { ok: true } | { ok: false; reason: string }) =>
        reply({ type: 'PUSH-RESULT', payload: { endpoint: typeof endpoint === 'string' ? endpoint.slice(0, 2048) : '', ...outcome } });
      if (message.type === 'PUSH-UNSUBSCRIBE') {
        if (typeof payload.endpoint !== 'string') return answer(payload.endpoint, { ok: false, reason: 'invalid' }), true;
        subscriptions.remove(userId, payload.endpoint).then(
          () => answer(payload.endpoint, { ok: true }),
          () => answer(payload.endpoint, { ok: false, reason: 'off' }),
        );
        return true;
      }
      const endpoint = (payload.subscription as { endpoint?: unknown } | undefined)?.endpoint;
      const checked = checkSubscription(payload.subscription, options.allowedEndpoints);
      if (typeof checked === 'string') return answer(endpoint, { ok: false, reason: checked }), true;
      subscriptions.add(userId, checked as StoredSubscription).then(
        (outcome) => answer(endpoint, outcome === 'ok' ? { ok: true } : { ok: false, reason: 'too-many' }),
        () => answer(endpoint, { ok: false, reason: 'off' }), // the store (Redis) is unreachable
      );
      return true;
    },

    parked({ type, src, dst, payload }) {
      const messages = type === 'OFFER' ? (payload as { metadata?: { peerInvitation?: unknown } } | undefined)?.metadata?.peerInvitation : type === 'RELAY' ? [payload] : undefined;
      if (!Array.isArray(messages) || closed) return;
      for (const message of messages.slice(0, 32)) {
        const invite = readInvite(message, src);
        if (!invite) continue;
        if (invite.kind === 'invite') void dropIfDeclined(src, dst, invite.invitationID).catch(() => {});
        if (invite.kind === 'invite' && invite.notification) void ring(src, dst, invite).catch(() => {});
        if (invite.kind === 'cancel') void missed(keyOf(dst, invite.invitationID), 'canceled').catch(() => {});
      }
    },

    http(request, response) {
      response.setHeader('Access-Control-Allow-Origin', '*');
      if (request.method === 'OPTIONS') {
        response.writeHead(204, { 'Access-Control-Allow-Methods': 'POST', 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '86400' }).end();
        return;
      }
      if (request.method !== 'POST') {
        response.writeHead(405, { Allow: 'POST, OPTIONS' }).end();
        return;
      }
      readBody(request).then(
        async (text) => {
          let capability: unknown;
          try {
            capability = (JSON.parse(text) as { capability?: unknown }).capability;
          } catch {
            capability = undefined;
          }
          const { status, body } = await decline(capability);
          response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        },
        () => {
          response.writeHead(413).end();
        },
      );
    },

    async close() {
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      sender.close();
      marks.close();
      await subscriptions.close();
    },
  };
}

/** An `invite` that asks to notify or a `cancel`, of an invitation whose id binds it to `src`; else undefined. */
function readInvite(message: unknown, src: string): Invite | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { v, kind, invitationID, inviterName, type, remainingMs, notification } = message as Record<string, unknown>;
  if (v !== 2 || (kind !== 'invite' && kind !== 'cancel')) return undefined;
  if (typeof invitationID !== 'string' || invitationID.length > 128 || !invitationID.startsWith(`${src}:`)) return undefined;
  if (typeof remainingMs !== 'number' || !(remainingMs > 0) || remainingMs > 600_000) return undefined;
  if (kind === 'cancel') return { kind, invitationID, remainingMs };
  if (typeof inviterName !== 'string' || !Number.isSafeInteger(type)) return undefined;
  const notify = typeof notification === 'object' && notification !== null ? (notification as Invite['notification']) : undefined;
  return { kind, invitationID, inviterName, type: type as number, remainingMs, ...(notify ? { notification: notify } : {}) };
}

/**
 * Whether a parked message is a copy of the declined invitation for its invitee: an OFFER from the
 * inviter that carries a message of it (ring on the offer), or a RELAY from the inviter of one.
 */
export function copyOf({ invitationID, inviterID, inviteeID }: Declined, message: { type: string; src: string; dst: string; payload?: unknown }): boolean {
  if (message.src !== inviterID || message.dst !== inviteeID) return false;
  const about = (value: unknown) => (value as { invitationID?: unknown } | null)?.invitationID === invitationID;
  if (message.type === 'RELAY') return about(message.payload);
  if (message.type !== 'OFFER') return false;
  const messages = (message.payload as { metadata?: { peerInvitation?: unknown } } | undefined)?.metadata?.peerInvitation;
  return Array.isArray(messages) && messages.some(about);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        reject(new Error('too large'));
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
