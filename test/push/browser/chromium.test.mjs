// The shipped service worker in Chromium (BROWSER-TESTING.md item 25): Chromium cannot
// subscribe without its vendor push service, so the DevTools Protocol delivers the push
// (ServiceWorker.deliverPushMessage on a page session, plain text) to the real worker, with
// no page of the app open. Starts a browser: run inside /work/shared/netns-run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import puppeteer from 'puppeteer-core';
import { CHROMIUM, bounded, waitFor } from '../browsers.mjs';
import { startStaticServer } from '../static-server.mjs';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
describe('the service worker in Chromium', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, () => {
  it('shows a pushed ring, ignores one past its deadline, and a missed call replaces it', { timeout: 60_000 }, async () => {
    const site = await startStaticServer();
    let browser;
    try {
      browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      await browser.defaultBrowserContext().overridePermissions(site.origin, ['notifications']);
      const blank = await browser.newPage();
      const cdp = await blank.createCDPSession();
      const registered = new Promise((resolve) => {
        cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
          const ours = registrations.find((registration) => registration.scopeURL.startsWith(site.origin) && !registration.isDeleted);
          if (ours) resolve(ours.registrationId);
        });
      });
      await cdp.send('ServiceWorker.enable');
      let page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      await page.evaluate(async () => {
        await navigator.serviceWorker.register('/peer-invitation-sw.js?server=https%3A%2F%2Fsignal.example%2Fpeerjs');
        await navigator.serviceWorker.ready;
      });
      const registrationId = await registered;
      await page.close();

      const push = (payload) => cdp.send('ServiceWorker.deliverPushMessage', { origin: site.origin, registrationId, data: JSON.stringify(payload) });
      const ring = (invitationID, deadline) => ({ v: 1, kind: 'ring', invitationID, inviterID: 'alice', inviterName: 'Your bank', type: 1, deadline, title: 'Call', message: 'Room 7', decline: 'capability' });
      await push(ring('alice:late', Date.now() - 1000));
      await push(ring('alice:1', Date.now() + 30_000));
      await push({ v: 1, kind: 'ring', note: 'not one of ours' });

      page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      const notifications = () =>
        page.evaluate(async () => {
          const registration = await navigator.serviceWorker.ready;
          return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, requireInteraction: n.requireInteraction, actions: n.actions.map((a) => a.action) }));
        });
      const shown = await waitFor(notifications, (list) => list.length > 0);
      assert.deepEqual(shown.map((n) => n.tag), ['alice:1'], 'the late ring and the foreign push show nothing');
      assert.equal(shown[0].title, 'alice (Your bank) is calling');
      assert.equal(shown[0].body, 'Call\nRoom 7');
      assert.equal(shown[0].requireInteraction, true);
      assert.deepEqual(shown[0].actions, ['accept', 'decline']);
      assert.deepEqual([shown[0].data.invitationID, shown[0].data.inviterID], ['alice:1', 'alice']);

      await page.close();
      await push({ v: 1, kind: 'missed', invitationID: 'alice:1', inviterID: 'alice', inviterName: 'Your bank', type: 1, reason: 'canceled' });
      page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      const replaced = await waitFor(notifications, (list) => list.length === 1 && list[0].data.kind === 'missed');
      assert.equal(replaced[0].title, 'Missed call: alice (Your bank)');
      assert.equal(replaced[0].tag, 'alice:1');
    } finally {
      if (browser) await bounded(browser.close(), 10_000);
      await site.close();
    }
  });
});

