// What the browser push tests (test/push/browser/) share: the browsers, Firefox's push prefs
// (BROWSER-TESTING.md item 24), a bounded teardown, and reading and waiting for notifications.
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

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
