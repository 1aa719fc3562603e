// The demo's "Ring me when this tab is closed", end to end in Firefox ESR headless: the demo's
// own servers as `npm start` runs them (scripts/demo-server.mjs: tokens, Web Push on), pointed at
// the local push stand-ins (BROWSER-TESTING.md item 24). bob turns the switch on and closes his tab;
// alice, in another browser context, invites him from the demo; bob's browser shows the service
// worker's notification; Decline, as the worker carries it out (clickDecision's POST: a test cannot
// click a notification), reaches alice's demo as a refusal; a second invitation from alice, still
// connected, rings bob again; Accept's page (clickDecision's URL) connects as bob and accepts.
// Starts a browser: run inside /work/shared/netns-run, after `npm run build`.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildDemo } from '../../../scripts/build-demo.mjs';
import { startDemoServer } from '../../../scripts/demo-server.mjs';
import { generateVapidKeys } from '../../../dist/server/index.js';
import { clickDecision, configFromScriptUrl } from '../../../dist/sw/index.js';
import { FIREFOX, bounded, launchFirefox, notificationsOf, waitFor } from '../browsers.mjs';
import { startFirefoxPushServer } from '../firefox-push-server.mjs';
import { startPushService } from '../push-service.mjs';

const METRICS_TOKEN = 'demo-push-test-metrics-token';

describe('The demo rings a closed tab (Firefox ESR)', { skip: !existsSync(FIREFOX) && `no ${FIREFOX}` }, () => {
  it("bob's switch on, tab closed: alice's demo invitation shows bob a notification; Decline reaches alice as a refusal; a second invitation rings again; Accept's page accepts", { timeout: 150_000 }, async () => {
    await buildDemo();
    const vapidKeys = generateVapidKeys();
    const service = await startPushService({ vapidPublicKey: vapidKeys.publicKey });
    const firefoxPush = await startFirefoxPushServer(service);
    // The companion's process trusts the stand-in's self-signed certificate (web-push uses Node's default agent).
    const certDir = mkdtempSync(join(tmpdir(), 'demo-push-ca-'));
    writeFileSync(join(certDir, 'ca.pem'), service.cert);
    let demo;
    let browser;
    try {
      demo = await startDemoServer({
        port: 0,
        peerPort: 0,
        aliveTimeoutMs: 15_000,
        push: { vapidKeys, subject: 'mailto:demo@example.com', allowedEndpoints: [`${service.origin}/push/`] },
        companionEnv: { NODE_EXTRA_CA_CERTS: join(certDir, 'ca.pem') },
        metricsToken: METRICS_TOKEN,
      });
      const registered = () => registeredClients(demo);
      browser = await launchFirefox(firefoxPush.url, {
        // The demo's media call once Accept went through (not checked here).
        'media.peerconnection.ice.loopback': true,
        'media.peerconnection.ice.default_address_only': false,
        'media.navigator.permission.disabled': true,
        'media.navigator.streams.fake': true,
      });

      // bob: the demo, the switch on, the tab closed.
      let bob = await browser.newPage();
      await bob.goto(`${demo.origin}/demo/?user=bob&name=Bob`);
      await waitInPage(bob, '[data-testid="connection-state"][data-state="connected"]');
      await bob.click('#push-switch');
      const outcome = await waitInPage(bob, '#push-status[data-state="enabled"], #push-status[data-state="error"]');
      assert.equal(outcome.state, 'enabled', `the switch says: ${outcome.text}`);
      await bob.close();
      await waitFor(registered, (count) => count === 0, { ms: 20_000, what: 'bob unregistered' });

      // alice, in a browser context of her own, invites bob from the demo.
      const aliceContext = await browser.createBrowserContext();
      const alice = await aliceContext.newPage();
      await alice.goto(`${demo.origin}/demo/?user=alice&name=Alice`);
      await waitInPage(alice, '[data-testid="connection-state"][data-state="connected"]');
      const invite = async (data, earlier = []) => {
        const before = service.received.length;
        await alice.evaluate((data) => {
          document.getElementById('invitees').value = 'bob';
          document.getElementById('timeout').value = '60';
          document.getElementById('data').value = data;
        }, data);
        const clicked = performance.now();
        await alice.click('#send-invitation');
        const card = await waitInPage(alice, `[data-testid="outgoing"]${earlier.map((id) => `:not([data-invitation-id="${id}"])`).join('')}`);
        const ring = await service.next((entry) => entry.status === 201, { after: before, timeoutMs: 30_000 });
        return { invitationID: card.invitationId, ring, clicked };
      };
      const first = await invite('first');
      const firstAck = await firefoxPush.nextAck((ack) => ack.code !== undefined);
      assert.equal(firstAck.code, 100, 'Firefox decrypted the push and gave it to the service worker');

      // A page opened afterwards (no user: it does not connect) reads the worker's notifications.
      const reader = await browser.newPage();
      await reader.goto(`${demo.origin}/demo/`);
      const shown = await waitFor(() => notificationsOf(reader), (list) => list.some((n) => n.tag === first.invitationID), { ms: 20_000, what: 'the first notification' });
      const noticed = performance.now();
      const ringing = shown.find((n) => n.tag === first.invitationID);
      assert.equal(ringing.title, 'alice (Alice) is calling');
      assert.equal(ringing.body, 'peer-invitation demo\nvoice call');
      assert.deepEqual(ringing.actions, ['accept', 'decline']);
      assert.equal(ringing.requireInteraction, true);
      assert.equal(ringing.data.invitationID, first.invitationID);
      assert.equal(ringing.data.inviterID, 'alice');
      console.log(`# demo: Invite click -> push at the stand-in ${(first.ring.at - first.clicked).toFixed(1)} ms; stand-in -> Firefox ack ${(firstAck.at - firstAck.sentAt).toFixed(1)} ms; ack -> notification listed by a page opened after it ${(noticed - firstAck.at).toFixed(0)} ms (100 ms polling)`);

      // Decline, as the worker's notificationclick handler does it: clickDecision, close, the same POST.
      const declined = await clickFromWorker(reader, 'decline', ringing);
      assert.equal(declined.kind, 'decline');
      assert.equal(declined.status, 200);
      const refusal = await waitInPage(alice, '[data-testid="log-entry"][data-source="invitationRefused$"]');
      assert.match(refusal.text, new RegExp(`bob refused invitation ${first.invitationID.slice(0, 8)}`));

      // alice, still connected, invites bob again: it rings again (a new push, a new notification).
      const second = await invite('second', [first.invitationID]);
      await firefoxPush.nextAck((ack) => ack !== firstAck && ack.code !== undefined);
      const again = await waitFor(() => notificationsOf(reader), (list) => list.some((n) => n.tag === second.invitationID), { ms: 20_000, what: 'the second notification' });
      const secondRinging = again.find((n) => n.tag === second.invitationID);

      // Accept: the worker opens its accept URL (the demo as bob) with the invitation; the demo accepts it there.
      const accepted = await clickFromWorker(reader, 'accept', secondRinging);
      assert.equal(accepted.kind, 'open');
      bob = await browser.newPage();
      await bob.goto(accepted.url);
      const chosen = await waitInPage(bob, '[data-testid="log-entry"][data-source="acceptedFromNotification"]', 30_000);
      assert.match(chosen.text, new RegExp(second.invitationID.slice(0, 8)));
      const acceptance = await waitInPage(alice, '[data-testid="log-entry"][data-source="invitationAccepted$"]', 30_000);
      assert.match(acceptance.text, new RegExp(`bob accepted invitation ${second.invitationID.slice(0, 8)}`));
      // The first invitation, declined from its notification, does not ring in bob's app.
      assert.equal(await bob.evaluate((id) => document.querySelector(`[data-testid="incoming"][data-invitation-id="${id}"]`) !== null, first.invitationID), false);
      await bob.close();
      await reader.close();
      await aliceContext.close();
    } finally {
      if (browser) await bounded(browser.close(), 10_000);
      await demo?.stop();
      await firefoxPush.close();
      await service.close();
      rmSync(certDir, { recursive: true, force: true });
    }
  });
});

/**
 * What the worker's notificationclick handler does for `action` on `notification` (src/sw/worker.ts):
 * the same clickDecision with the worker's own config (its script URL) and scope; the notification
 * closed; for a decline, the same POST, sent from a page of the worker's origin. A real click cannot
 * be automated; a decline's POST from the page carries the same Origin as the worker's.
 */
async function clickFromWorker(page, action, notification) {
  const { scriptURL, scope } = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return { scriptURL: registration.active.scriptURL, scope: registration.scope };
  });
  const decision = clickDecision({ action, data: notification.data, config: configFromScriptUrl(scriptURL), scope, now: Date.now() });
  const status = await page.evaluate(async (tag, decision) => {
    const registration = await navigator.serviceWorker.ready;
    for (const shown of await registration.getNotifications({ tag })) shown.close();
    if (decision.kind !== 'decline') return undefined;
    const response = await fetch(decision.url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: decision.body, mode: 'cors' });
    return response.status;
  }, notification.tag, decision);
  return { ...decision, status };
}


/** Waits in the page for an element matching `selector`; resolves with its text and data attributes. */
function waitInPage(page, selector, ms = 15_000) {
  return page.evaluate(
    (selector, ms) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
        const look = () => {
          const element = document.querySelector(selector);
          if (element) return resolve({ text: element.textContent, ...element.dataset });
          if (Date.now() > deadline) return reject(new Error(`no ${selector} within ${ms} ms; log: ${[...document.querySelectorAll('[data-testid="log-entry"]')].map((entry) => entry.textContent).join(' | ')}`));
          setTimeout(look, 50);
        };
        look();
      }),
    selector,
    ms,
  );
}


/** The companion's count of registered clients, from its metrics. */
async function registeredClients(demo) {
  const response = await fetch(`http://127.0.0.1:${demo.peerPort}${demo.peerPath}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await response.text();
  return Number(/^peer_invitation_registered_clients (\d+)$/m.exec(text)?.[1] ?? NaN);
}
