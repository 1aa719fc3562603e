/**
 * The plugin's half of Web Push (README, "Ring with no tab open"): ask permission if needed,
 * subscribe with the companion server's VAPID key (from its SERVER-INFO), hand the subscription to
 * the server over the registered socket (PUSH-SUBSCRIBE → PUSH-RESULT), and the reverse. Browser
 * objects and the server link are passed in, so each outcome is testable without a push service.
 * The plugin's `enablePush`/`disablePush` (plugin.ts) call these with the transport's server link.
 */

/** Why push could not be enabled. */
export type PushErrorCode =
  /** The user (or the browser's policy) denied notifications. */
  | 'PERMISSION_DENIED'
  /** No `serviceWorker`/`PushManager`/`Notification` here (an insecure origin, an old browser, a private window). */
  | 'UNSUPPORTED'
  /** The server is a plain PeerServer, or a companion server without `push`. */
  | 'SERVER_NO_PUSH'
  /** The server refused the subscription (`PUSH-RESULT` reason), or the browser could not subscribe. */
  | 'REFUSED'
  /** `connectUser` has not resolved (or the user disconnected). */
  | 'NOT_CONNECTED'
  /** Another tab of this user holds the connection to the server (README, "Several tabs"): call it there. */
  | 'OTHER_TAB';

export type EnablePushResult = { enabled: true } | { error: { code: PushErrorCode; reason?: string } };

/** What enablePush needs of the connection to the companion server. */
export interface PushServerLink {
  /**
   * Resolves once the server said what it offers (its SERVER-INFO comes just after OPEN, so it may
   * still be on its way when `connectUser` resolves), or after a short wait: a plain PeerServer says nothing.
   */
  ready?(): Promise<void>;
  /** The VAPID public key of the last SERVER-INFO; undefined when the server has no push. */
  pushKey(): string | undefined;
  /** Sends a PUSH-SUBSCRIBE or PUSH-UNSUBSCRIBE and resolves with the PUSH-RESULT payload for its endpoint. */
  request(frame: { type: 'PUSH-SUBSCRIBE' | 'PUSH-UNSUBSCRIBE'; payload: object }): Promise<{ ok: boolean; reason?: string }>;
}

export interface PushBrowser {
  serviceWorker?: { register(url: string): Promise<ServiceWorkerRegistration> } | undefined;
  Notification?: { permission: NotificationPermission; requestPermission(): Promise<NotificationPermission> } | undefined;
}

export interface EnablePushOptions {
  /** The app's registration of `peer-invitation-sw.js`, or the script's URL to register. */
  serviceWorker: ServiceWorkerRegistration | string;
}

export async function enablePush({ serviceWorker }: EnablePushOptions, link: PushServerLink, browser: PushBrowser = globalThis.navigator ? { serviceWorker: navigator.serviceWorker, Notification: globalThis.Notification } : {}): Promise<EnablePushResult> {
  if (!browser.Notification || (typeof serviceWorker === 'string' && !browser.serviceWorker)) return fail('UNSUPPORTED');
  await link.ready?.();
  const key = link.pushKey();
  if (key === undefined) return fail('SERVER_NO_PUSH');
  let permission = browser.Notification.permission;
  if (permission === 'default') permission = await browser.Notification.requestPermission();
  if (permission !== 'granted') return fail('PERMISSION_DENIED');
  const registration = typeof serviceWorker === 'string' ? await browser.serviceWorker!.register(serviceWorker) : serviceWorker;
  if (!registration.pushManager) return fail('UNSUPPORTED');
  let subscription = await registration.pushManager.getSubscription();
  // Subscribed with another server key (the server's VAPID keys changed): pushes to it would be refused.
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  try {
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  } catch (error) {
    return fail((error as DOMException).name === 'NotAllowedError' ? 'PERMISSION_DENIED' : 'REFUSED', (error as Error).message);
  }
  const result = await link.request({ type: 'PUSH-SUBSCRIBE', payload: { subscription: subscription.toJSON() } });
  return result.ok ? { enabled: true } : fail('REFUSED', result.reason);
}

/** Forgets the subscription on the server and in the browser. Resolves true when there was one. */
export async function disablePush(registration: ServiceWorkerRegistration, link: PushServerLink): Promise<boolean> {
  const subscription = await registration.pushManager?.getSubscription();
  if (!subscription) return false;
  await link.request({ type: 'PUSH-UNSUBSCRIBE', payload: { endpoint: subscription.endpoint } }).catch(() => undefined);
  await subscription.unsubscribe();
  return true;
}

/** The invitation the user accepted from a notification, as the service worker put it in the URL (`peerInvitationAccept`). */
export function acceptedFromNotification(url: string = globalThis.location?.href ?? ''): string | undefined {
  try {
    return new URL(url).searchParams.get('peerInvitationAccept') ?? undefined;
  } catch {
    return undefined;
  }
}

function fail(code: PushErrorCode, reason?: string): EnablePushResult {
  return { error: reason === undefined ? { code } : { code, reason } };
}

function sameKey(given: ArrayBuffer | null, key: string): boolean {
  if (!given) return false;
  const bytes = new Uint8Array(given);
  const text = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return text === key.replace(/=+$/, '');
}
