// What the browser push tests (test/push/browser/) share: the servers a push test runs against,
// the browsers, Firefox's push prefs (BROWSER-TESTING.md item 24), a bounded teardown, and reading
// and waiting for notifications.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import puppeteer from 'puppeteer-core';
import { generateVapidKeys, signToken, startPeerServer } from '../../dist/server/index.js';
import { startFirefoxPushServer } from './firefox-push-server.mjs';
import { startPushService } from './push-service.mjs';
import { startStaticServer } from './static-server.mjs';

export const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
export const CHROMIUM = process.env.CHROME_PATH || '/usr/bin/chromium';

/**
 * Firefox ESR headless with its push client pointed at a local push-protocol stand-in
 * (firefox-push-server.mjs), notifications allowed, and alerts shown without a desktop service
 * (without it `showNotification` rejects NS_ERROR_FAILURE).
 */
export function launchFirefox(pushServerUrl, extraPrefs = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'dom.push.serverURL': pushServerUrl,
      'dom.push.testing.allowInsecureServerURL': true,
      // puppeteer's remote agent turns the push connection off.
      'dom.push.connection.enabled': true,
      'permissions.default.desktop-notification': 1,
      'alerts.useSystemBackend': false,
      ...extraPrefs,
    },
  });
}

/** Settles with `promise`, or after `ms` whatever happens: teardown must not hang a test. */
export const bounded = (promise, ms) => Promise.race([promise.catch(() => {}), new Promise((resolve) => setTimeout(resolve, ms).unref())]);

/** The notifications the service worker of `page`'s origin shows now. */
export const notificationsOf = (page) =>
  page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      data: n.data,
      requireInteraction: n.requireInteraction,
      actions: n.actions?.map((action) => action.action),
    }));
  });

/** Calls `read` until `done(result)`, every 100 ms, for at most `ms` (a notification has no event a page can await). */
export async function waitFor(read, done, { ms = 15_000, what } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await read();
    if (done(result)) return result;
    if (Date.now() > deadline) assert.fail(`${what ? `${what}: ` : ''}not within ${ms} ms: ${JSON.stringify(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The local push service stand-in (HTTPS, self-signed) and Firefox's push-protocol stand-in in
 * front of it, a static site serving the app pages and the service worker, and a companion server
 * (tokens required) whose pushes may only go to the stand-in. `close()` stops what started, in
 * reverse, also when a later start fails.
 */
export async function startPushStack({ relay = true } = {}) {
  const secret = randomBytes(32).toString('base64url');
  const stops = [];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    const vapidKeys = generateVapidKeys();
    const service = await startPushService({ vapidPublicKey: vapidKeys.publicKey });
    stops.push(() => service.close());
    const agent = new Agent({ ca: service.cert });
    stops.push(async () => agent.destroy());
    const firefoxPush = await startFirefoxPushServer(service);
    stops.push(() => firefoxPush.close());
    const site = await startStaticServer();
    stops.push(() => site.close());
    const companion = await startPeerServer({
      port: 0,
      host: '127.0.0.1',
      secret,
      relay,
      push: { vapidKeys, subject: 'mailto:ops@example.com', allowedEndpoints: [`${service.origin}/push/`], agent },
    });
    stops.push(() => companion.close());
    const token = (userId) => signToken({ secret, userId, expiresInSeconds: 120 });
    /** The plugin's options in a page: the companion server, the user's token, memory storage. */
    const options = (userId) => ({ peer: { host: '127.0.0.1', port: companion.port, path: '/peerjs', config: { iceServers: [] }, debug: 0 }, token: token(userId), storage: 'memory', tabs: false, notifyWhenAppIsInTheBackgroundOrQuit: true });
    return { vapidKeys, service, firefoxPush, site, companion, serverUrl: `http://127.0.0.1:${companion.port}/peerjs`, token, options, close };
  } catch (error) {
    await close();
    throw error;
  }
}
