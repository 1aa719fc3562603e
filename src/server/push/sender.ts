/**
 * Sends one push (RFC 8030) with its payload encrypted as RFC 8291 `aes128gcm` and a VAPID
 * (RFC 8292) JWT, through the `web-push` package, and reads the push service's answer: 201 is
 * done; 404 and 410 mean the subscription is gone; 413 is our bug; 429 means wait for
 * `Retry-After` before anything else goes to that push service, then try once more while the
 * message still has time to live.
 */
import type { Agent } from 'node:https';
import type { StoredSubscription } from './subscriptions.js';
import type { VapidKeys } from './vapid.js';

export interface PushResult {
  userId: string;
  endpoint: string;
  invitationID: string;
  kind: 'ring' | 'missed';
  /** The push service's HTTP status; 0 when no answer came (network error, timeout). */
  status: number;
}

export interface PushRequest {
  userId: string;
  subscription: StoredSubscription;
  body: string;
  topic: string;
  urgency: 'high' | 'normal';
  /** Seconds the message may wait at the push service, asked when it is sent (it shrinks while we wait). */
  ttlSeconds: () => number;
  invitationID: string;
  kind: 'ring' | 'missed';
}

const REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_AFTER_MS = 60_000;
const MAX_RETRY_AFTER_MS = 3600_000;

type WebPush = typeof import('web-push');

export async function createSender({ vapidKeys, subject, agent, onResult }: { vapidKeys: VapidKeys; subject: string; agent: Agent | undefined; onResult: (result: PushResult) => void }) {
  // Loaded here: a server without `push` must not need the `web-push` package.
  const webPush = ((await import('web-push')) as { default?: WebPush } & WebPush).default ?? ((await import('web-push')) as WebPush);
  /** Push service origins that said 429, and until when they asked us to wait. */
  const blockedUntil = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      timers.add(timer);
    });

  /** Resolves true when the subscription is gone (404, 410) and should be forgotten. */
  const send = async (request: PushRequest, retried = false): Promise<boolean> => {
    const origin = new URL(request.subscription.endpoint).origin;
    const blocked = (blockedUntil.get(origin) ?? 0) - Date.now();
    if (blocked > 0) {
      if (request.ttlSeconds() * 1000 <= blocked) return false;
      await wait(blocked);
    }
    const ttl = request.ttlSeconds();
    if (closed || ttl < 1) return false;
    let status = 0;
    let retryAfter: string | undefined;
    try {
      const response = await webPush.sendNotification(request.subscription, request.body, {
        vapidDetails: { subject, publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey },
        TTL: ttl,
        urgency: request.urgency,
        topic: request.topic,
        contentEncoding: 'aes128gcm',
        timeout: REQUEST_TIMEOUT_MS,
        ...(agent ? { agent } : {}),
      });
      status = response.statusCode;
    } catch (error) {
      const { statusCode, headers } = error as { statusCode?: number; headers?: Record<string, string | undefined> };
      status = typeof statusCode === 'number' ? statusCode : 0;
      retryAfter = headers?.['retry-after'];
    }
    onResult({ userId: request.userId, endpoint: request.subscription.endpoint, invitationID: request.invitationID, kind: request.kind, status });
    if (status === 404 || status === 410) return true;
    if (status === 429) {
      blockedUntil.set(origin, Date.now() + retryAfterMs(retryAfter));
      if (!retried) return send(request, true);
    }
    return false;
  };

  return {
    send,
    close(): void {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), bounded. */
function retryAfterMs(header: string | undefined): number {
  if (header === undefined) return DEFAULT_RETRY_AFTER_MS;
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : DEFAULT_RETRY_AFTER_MS;
}
