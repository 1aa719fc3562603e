/**
 * What the service worker does, as pure functions of what it was given: which notification a
 * push shows (if any), and what a click on it means. No browser API here, so every rule is
 * testable without a push service, and the worker itself only carries the decisions out.
 */
import { notificationText } from '../session/notifications.js';

/** What the companion server pushes (its `src/server/push/payload.ts`). */
export type PushPayload =
  | { v: 1; kind: 'ring'; invitationID: string; inviterID: string; inviterName: string; type: number; deadline: number; title?: string; message?: string; decline: string }
  | { v: 1; kind: 'missed'; invitationID: string; inviterID: string; inviterName: string; type: number; reason: 'canceled' | 'timeout' };

export interface WorkerConfig {
  /** The companion server as the plugin reaches it over HTTP(S): origin and path, e.g. `https://signal.example.com/peerjs`. */
  serverUrl?: string;
  /** The page Accept opens (or focuses); the invitation id is added as the `peerInvitationAccept` query parameter. Default: the worker's scope. */
  acceptUrl?: string;
  /** The page a click on the notification's body (or on a missed call) opens. Default: the worker's scope. */
  appUrl?: string;
}

/** What `data` each notification carries (the contract: `invitationID` and the verified `inviterID`). */
export interface NotificationData {
  invitationID: string;
  inviterID: string;
  kind: 'ring' | 'missed';
  decline?: string;
  deadline?: number;
}

export interface NotificationPlan {
  title: string;
  options: {
    body: string;
    tag: string;
    requireInteraction: boolean;
    renotify: boolean;
    actions: { action: 'accept' | 'decline'; title: string }[];
    data: NotificationData;
  };
}

/** The query parameter Accept adds to `acceptUrl`; the plugin reads it (`acceptedFromNotification`). */
export const ACCEPT_PARAMETER = 'peerInvitationAccept';

/** The push's content if it is one of ours; undefined for anything else. */
export function readPush(text: string | undefined): PushPayload | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const payload = value as Partial<PushPayload> | null;
  if (!payload || payload.v !== 1 || (payload.kind !== 'ring' && payload.kind !== 'missed')) return undefined;
  if (typeof payload.invitationID !== 'string' || typeof payload.inviterID !== 'string' || typeof payload.inviterName !== 'string') return undefined;
  if (payload.kind === 'ring' && (typeof payload.deadline !== 'number' || typeof payload.decline !== 'string')) return undefined;
  return payload as PushPayload;
}

/** The notification a push shows, or undefined (not ours, or a ring whose deadline has passed). */
export function notificationFor(payload: PushPayload, now: number): NotificationPlan | undefined {
  const inviter = { id: payload.inviterID, name: payload.inviterName };
  const data: NotificationData = { invitationID: payload.invitationID, inviterID: payload.inviterID, kind: payload.kind };
  if (payload.kind === 'missed') {
    const { title } = notificationText({ inviter });
    // The same tag: it replaces the ringing notification of this invitation.
    return { title: `Missed call: ${title.replace(/ is calling$/, '')}`, options: { body: '', tag: payload.invitationID, requireInteraction: false, renotify: false, actions: [], data } };
  }
  if (payload.deadline <= now) return undefined;
  const { title, body } = notificationText({ inviter, title: payload.title, message: payload.message });
  return {
    title,
    options: {
      body,
      tag: payload.invitationID,
      requireInteraction: true,
      renotify: true,
      actions: [
        { action: 'accept', title: 'Accept' },
        { action: 'decline', title: 'Decline' },
      ],
      data: { ...data, decline: payload.decline, deadline: payload.deadline },
    },
  };
}

export type ClickDecision =
  | { kind: 'open'; url: string }
  | { kind: 'decline'; url: string; body: string }
  | { kind: 'nothing' };

/** What a click (`action` '' for the body) on a notification with `data` means. */
export function clickDecision({ action, data, config, scope, now }: { action: string; data: Partial<NotificationData> | undefined; config: WorkerConfig; scope: string; now: number }): ClickDecision {
  const appUrl = new URL(config.appUrl ?? scope, scope).href;
  if (!data || typeof data.invitationID !== 'string') return { kind: 'open', url: appUrl };
  const live = data.kind === 'ring' && typeof data.deadline === 'number' && data.deadline > now;
  if (action === 'accept' && live) {
    const url = new URL(config.acceptUrl ?? scope, scope);
    url.searchParams.set(ACCEPT_PARAMETER, data.invitationID);
    return { kind: 'open', url: url.href };
  }
  if (action === 'decline') {
    if (!live || !config.serverUrl || typeof data.decline !== 'string') return { kind: 'nothing' };
    return { kind: 'decline', url: `${config.serverUrl.replace(/\/+$/, '')}/push/decline`, body: JSON.stringify({ capability: data.decline }) };
  }
  return { kind: 'open', url: appUrl };
}
