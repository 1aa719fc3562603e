// Web Push end to end in Firefox ESR headless (BROWSER-TESTING.md item 24): a real
// PushManager.subscribe against a local push-protocol WebSocket stand-in, the companion
// server's real encrypted push for an invitation to a user with no tab of the app open,
// Firefox's own decryption, the shipped service worker's `push` event, a real notification.
// Starts a browser: run inside /work/shared/netns-run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { connect, invite, offer } from '../clients.mjs';
import { FIREFOX, bounded, launchFirefox, notificationsOf, startPushStack, waitFor } from '../browsers.mjs';

describe('Web Push in Firefox ESR', { skip: !existsSync(FIREFOX) && `no ${FIREFOX}` }, () => {
  it('rings a user with no tab open: subscribe, encrypted push, service worker notification, missed-call replacement, decline', { timeout: 90_000 }, async () => {
    const stack = await startPushStack();
    const { vapidKeys, service, firefoxPush, site, companion, serverUrl, token } = stack;
    const sockets = [];
    let browser;
    try {
      browser = await launchFirefox(firefoxPush.url);
      // bob's app page: registers the shipped worker and subscribes (what enablePush does).
      let page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      const subscription = await page.evaluate(async (script, applicationServerKey) => {
        await navigator.serviceWorker.register(script);
        const registration = await navigator.serviceWorker.ready;
        const subscribed = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
        return subscribed.toJSON();
      }, `/peer-invitation-sw.js?server=${encodeURIComponent(serverUrl)}&accept=/call.html`, vapidKeys.publicKey);
      assert.ok(subscription.endpoint.startsWith(`${service.origin}/push/`));
      const bob = await connect(companion.port, 'bob', token('bob'));
      sockets.push(bob);
      bob.send({ type: 'PUSH-SUBSCRIBE', payload: { subscription } });
      assert.equal((await bob.next((message) => message.type === 'PUSH-RESULT')).payload.ok, true);
      await bob.close();
      // No tab of the app open: the browser runs, on a blank page.
      const blank = await browser.newPage();
      await page.close();

      const alice = await connect(companion.port, 'alice', token('alice'));
      sockets.push(alice);
      const message = invite('alice', { inviterName: 'Alice', notification: { title: 'Team call', message: 'Room 7' } });
      const offered = performance.now();
      alice.send(offer('bob', [message]));
      const ringPush = await service.next((entry) => entry.status === 201);
      const ringAck = await firefoxPush.nextAck((ack) => ack.code !== undefined);
      assert.equal(ringAck.code, 100, 'Firefox decrypted the push and gave it to the service worker');
      console.log(`# sendInvitation OFFER -> push at the stand-in ${(ringPush.at - offered).toFixed(1)} ms; stand-in -> Firefox ack ${(ringAck.at - ringAck.sentAt).toFixed(1)} ms`);

      page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      const shown = await waitFor(() => notificationsOf(page), (list) => list.length === 1);
      assert.equal(shown[0].title, 'alice (Alice) is calling');
      assert.equal(shown[0].body, 'Team call\nRoom 7');
      assert.equal(shown[0].tag, message.invitationID);
      assert.equal(shown[0].requireInteraction, true);
      assert.equal(shown[0].data.invitationID, message.invitationID);
      assert.equal(shown[0].data.inviterID, 'alice');
      await page.close();

      // Canceled: the missed call replaces it (same tag).
      alice.send(offer('bob', [{ v: 2, kind: 'cancel', invitationID: message.invitationID, data: '', remainingMs: 20_000 }]));
      await firefoxPush.nextAck((ack) => ack !== ringAck);
      page = await browser.newPage();
      await page.goto(`${site.origin}/app.html`);
      const replaced = await waitFor(() => notificationsOf(page), (list) => list.length === 1 && list[0].data.kind === 'missed');
      assert.equal(replaced[0].title, 'Missed call: alice (Alice)');
      assert.equal(replaced[0].tag, message.invitationID);

      // A second call, declined: what the worker does for the Decline action (clickDecision), from the app's origin.
      const second = invite('alice', { inviterName: 'Alice' });
      alice.send(offer('bob', [second]));
      const ringing = await waitFor(() => notificationsOf(page), (list) => list.some((n) => n.tag === second.invitationID));
      const { data } = ringing.find((n) => n.tag === second.invitationID);
      const status = await page.evaluate(async (url, capability) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: JSON.stringify({ capability }), mode: 'cors' })).status, `${serverUrl}/push/decline`, data.decline);
      assert.equal(status, 200);
      const refusal = await alice.next((frame) => frame.type === 'RELAY');
      assert.deepEqual([refusal.src, refusal.payload.kind, refusal.payload.invitationID], ['bob', 'refuse', second.invitationID]);
      await blank.close();
    } finally {
      for (const socket of sockets) socket.socket.terminate();
      if (browser) await bounded(browser.close(), 10_000);
      await stack.close();
    }
  });
});

describe('Web Push through the plugin in Firefox ESR', { skip: !existsSync(FIREFOX) && `no ${FIREFOX}` }, () => {
  it("bob's plugin enablePush subscribes; with bob's tab closed alice's sendInvitation rings him; Decline reaches alice as invitationRefused$; Accept's URL flags invitationReceived$; disablePush unsubscribes", { timeout: 120_000 }, async () => {
    const stack = await startPushStack();
    const { service, firefoxPush, site, serverUrl, options } = stack;
    const worker = `/peer-invitation-sw.js?server=${encodeURIComponent(serverUrl)}&accept=/call.html`;
    let browser;
    try {
      browser = await launchFirefox(firefoxPush.url);
      // bob's app: the real plugin subscribes (PushManager.subscribe with the key of SERVER-INFO, PUSH-SUBSCRIBE, PUSH-RESULT).
      const bobPage = await browser.newPage();
      await bobPage.goto(`${site.origin}/app.html`);
      const enabled = await bobPage.evaluate(async (options, worker) => {
        const plugin = PeerInvitation.createSignalingPlugin(options);
        const before = await plugin.enablePush({ serviceWorker: worker });
        await plugin.connectUser({ id: 'bob', name: 'Bob' });
        const result = await plugin.enablePush({ serviceWorker: worker });
        const registration = await navigator.serviceWorker.ready;
        const subscription = await registration.pushManager.getSubscription();
        await plugin.dispose();
        return { before: before.error?.code, result, endpoint: subscription?.endpoint };
      }, options('bob'), worker);
      assert.equal(enabled.before, 'NOT_CONNECTED');
      assert.deepEqual(enabled.result, { enabled: true });
      assert.ok(enabled.endpoint.startsWith(`${service.origin}/push/`));
      await bobPage.close();

      // No tab of bob's open. alice's real plugin, in a page of her own, invites him with both switches on.
      const alicePage = await browser.newPage();
      await alicePage.goto(`${site.origin}/app.html`);
      const offered = performance.now();
      const invitationID = await alicePage.evaluate(async (options) => {
        const plugin = (window.alice = PeerInvitation.createSignalingPlugin(options));
        window.refused = new Promise((resolve) => plugin.invitationRefused$.subscribe(resolve));
        await plugin.connectUser({ id: 'alice', name: 'Alice' });
        const sent = await plugin.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 60, type: 1, data: 'room 7', notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: true, title: 'Team call', message: 'Room 7' } });
        if (sent.error) throw new Error(sent.error.message);
        return sent.invitationID;
      }, options('alice'));
      const ringPush = await service.next((entry) => entry.status === 201);
      const ringAck = await firefoxPush.nextAck((ack) => ack.code !== undefined);
      assert.equal(ringAck.code, 100, 'Firefox decrypted the push and gave it to the service worker');
      console.log(`# plugin sendInvitation -> push at the stand-in ${(ringPush.at - offered).toFixed(1)} ms; stand-in -> Firefox ack ${(ringAck.at - ringAck.sentAt).toFixed(1)} ms`);

      const shown = await waitFor(() => notificationsOf(alicePage), (list) => list.some((n) => n.tag === invitationID));
      const ringing = shown.find((n) => n.tag === invitationID);
      assert.equal(ringing.title, 'alice (Alice) is calling');
      assert.equal(ringing.body, 'Team call\nRoom 7');
      assert.equal(ringing.data.inviterID, 'alice');

      // Decline, as the worker does it (clickDecision's POST): alice's plugin hears a refusal from bob.
      const status = await alicePage.evaluate(async (url, capability) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: JSON.stringify({ capability }), mode: 'cors' })).status, `${serverUrl}/push/decline`, ringing.data.decline);
      assert.equal(status, 200);
      const refusal = await alicePage.evaluate(() => window.refused);
      assert.deepEqual([refusal.invitationID, refusal.invitee], [invitationID, 'bob']);

      // A second call (alice reconnected, so a new parked OFFER rings), accepted from its notification: the worker opens
      // acceptUrl?peerInvitationAccept=<id>, and bob's plugin, connecting there, says so on invitationReceived$.
      const second = await alicePage.evaluate(async (options) => {
        await window.alice.dispose();
        const plugin = (window.alice = PeerInvitation.createSignalingPlugin(options));
        await plugin.connectUser({ id: 'alice', name: 'Alice' });
        return (await plugin.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 60, type: 1, data: '', notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: true } })).invitationID;
      }, options('alice'));
      await waitFor(() => notificationsOf(alicePage), (list) => list.some((n) => n.tag === second));
      const callPage = await browser.newPage();
      await callPage.goto(`${site.origin}/call.html?peerInvitationAccept=${encodeURIComponent(second)}`);
      const received = await callPage.evaluate(async (options) => {
        const plugin = PeerInvitation.createSignalingPlugin(options);
        const event = new Promise((resolve) => plugin.invitationReceived$.subscribe(resolve));
        await plugin.connectUser({ id: 'bob', name: 'Bob' });
        const { invitationID, acceptedFromNotification } = await Promise.race([event, new Promise((resolve) => setTimeout(() => resolve({ invitationID: 'none within 30 s' }), 30_000))]);
        // And bob turns push off: PUSH-UNSUBSCRIBE, then the browser's subscription goes.
        const disabled = await plugin.disablePush();
        const subscription = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
        await plugin.dispose();
        return { invitationID, acceptedFromNotification, disabled, subscribed: subscription !== null };
      }, options('bob'));
      assert.deepEqual(received, { invitationID: second, acceptedFromNotification: true, disabled: { enabled: false }, subscribed: false });
      await alicePage.evaluate(() => window.alice.dispose());
    } finally {
      if (browser) await bounded(browser.close(), 10_000);
      await stack.close();
    }
  });
});
