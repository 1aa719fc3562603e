/**
 * The service worker's listeners: a push shows (or replaces) the notification the decisions
 * say; a click opens or focuses the app, or POSTs the decline capability to the companion
 * server without opening anything. Typed structurally, so this compiles beside the DOM types.
 */
import { clickDecision, notificationFor, readPush, type NotificationPlan, type WorkerConfig } from './decisions.js';

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface PushEvent extends ExtendableEvent {
  readonly data: { text(): string } | null;
}
interface NotificationLike {
  readonly tag: string;
  readonly data: unknown;
  close(): void;
}
interface NotificationEvent extends ExtendableEvent {
  readonly action: string;
  readonly notification: NotificationLike;
}
interface WindowClientLike {
  readonly url: string;
  focus(): Promise<unknown>;
  navigate?(url: string): Promise<unknown>;
}
/** The slice of `ServiceWorkerGlobalScope` used. */
export interface WorkerScope {
  addEventListener(type: 'push' | 'notificationclick', listener: (event: never) => void): void;
  readonly location: { href: string };
  readonly registration: {
    readonly scope: string;
    showNotification(title: string, options: NotificationPlan['options']): Promise<void>;
    getNotifications(filter?: { tag?: string }): Promise<NotificationLike[]>;
  };
  readonly clients: { matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClientLike[]>; openWindow(url: string): Promise<unknown> };
  fetch(url: string, init: { method: string; headers: Record<string, string>; body: string; mode: 'cors' }): Promise<unknown>;
}

/** Config from the worker script's own URL: `peer-invitation-sw.js?server=…&accept=…&app=…` (all optional). */
export function configFromScriptUrl(href: string): WorkerConfig {
  const search = new URL(href).searchParams;
  const config: WorkerConfig = {};
  const server = search.get('server');
  const accept = search.get('accept');
  const app = search.get('app');
  if (server) config.serverUrl = server;
  if (accept) config.acceptUrl = accept;
  if (app) config.appUrl = app;
  return config;
}

/** Adds the listeners to `scope`; `config()` is read at each event, so a later `configure` applies. */
export function installPeerInvitationWorker(scope: WorkerScope, config: () => WorkerConfig): void {
  scope.addEventListener('push', (event: PushEvent) => {
    const payload = readPush(event.data?.text());
    if (!payload) return;
    const plan = notificationFor(payload, Date.now());
    if (!plan) return;
    event.waitUntil(scope.registration.showNotification(plan.title, plan.options));
  });

  scope.addEventListener('notificationclick', (event: NotificationEvent) => {
    const decision = clickDecision({ action: event.action, data: event.notification.data as never, config: config(), scope: scope.registration.scope, now: Date.now() });
    event.notification.close();
    if (decision.kind === 'decline') {
      // text/plain: a CORS request without a preflight; the server reads the JSON anyway.
      event.waitUntil(scope.fetch(decision.url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: decision.body, mode: 'cors' }).catch(() => {}));
    } else if (decision.kind === 'open') {
      event.waitUntil(openOrFocus(scope, decision.url));
    }
  });
}

/** Focuses a window of the app already open on that page (navigating it to the URL), or opens one. */
async function openOrFocus(scope: WorkerScope, url: string): Promise<void> {
  const target = new URL(url);
  const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const same = windows.find((client) => new URL(client.url).pathname === target.pathname);
  if (same) {
    await same.focus();
    if (same.url !== url) await same.navigate?.(url);
    return;
  }
  await scope.clients.openWindow(url);
}
