// After a Decline from a push notification, the inviter's next invitation to the same closed tab
// rings too, in Firefox ESR headless with the real plugin on both sides, on a companion server that
// does not relay (so the OFFER is the only way an invitation travels): the decline takes the OFFER
// that rang out of the mailbox and tells the inviter (EXPIRE), whose plugin then sends what it still
// owes on a new OFFER, which rings. Before that fix the second invitation waited on the first
// OFFER's dead connection (connectTimeoutMs, 65 s). Starts a browser: run inside /work/shared/netns-run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { clickDecision, configFromScriptUrl } from '../../../dist/sw/index.js';
import { FIREFOX, bounded, launchFirefox, notificationsOf, startPushStack, waitFor } from '../browsers.mjs';

describe('Web Push after a decline (Firefox ESR)', { skip: !existsSync(FIREFOX) && `no ${FIREFOX}` }, () => {
  it("alice, still connected, invites bob again after he declined from the notification: the second invitation rings his closed tab", { timeout: 90_000 }, async () => {
    const stack = await startPushStack({ relay: false });
    const { firefoxPush, site, serverUrl, options } = stack;
    const worker = `/peer-invitation-sw.js?server=${encodeURIComponent(serverUrl)}&accept=/call.html`;
    let browser;
    try {
      browser = await launchFirefox(firefoxPush.url);
      const bobPage = await browser.newPage();
      await bobPage.goto(`${site.origin}/app.html`);
      const enabled = await bobPage.evaluate(async (options, worker) => {
        const plugin = PeerInvitation.createSignalingPlugin(options);
        await plugin.connectUser({ id: 'bob', name: 'Bob' });
        const result = await plugin.enablePush({ serviceWorker: worker });
        await plugin.dispose();
        return result;
      }, options('bob'), worker);
      assert.deepEqual(enabled, { enabled: true });
      await bobPage.close();

      const alice = await browser.newPage();
      await alice.goto(`${site.origin}/app.html`);
      await alice.evaluate(async (options) => {
        const plugin = (window.alice = PeerInvitation.createSignalingPlugin(options));
        window.refusals = [];
        plugin.invitationRefused$.subscribe((event) => window.refusals.push(event.invitationID));
        await plugin.connectUser({ id: 'alice', name: 'Alice' });
      }, options('alice'));
      const send = () =>
        alice.evaluate(async () => {
          const sent = await window.alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 60, type: 0, data: '', notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: true } });
          if (sent.error) throw new Error(sent.error.message);
          return sent.invitationID;
        });

      const first = await send();
      const ringing = (await waitFor(() => notificationsOf(alice), (list) => list.some((n) => n.tag === first))).find((n) => n.tag === first);
      // Decline, as the worker's notificationclick handler does it: clickDecision, then its POST.
      const { scriptURL, scope } = await alice.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        return { scriptURL: registration.active.scriptURL, scope: registration.scope };
      });
      const decision = clickDecision({ action: 'decline', data: ringing.data, config: configFromScriptUrl(scriptURL), scope, now: Date.now() });
      assert.equal(decision.kind, 'decline');
      const status = await alice.evaluate(async ({ url, body }) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body, mode: 'cors' })).status, decision);
      assert.equal(status, 200);
      await waitFor(() => alice.evaluate(() => window.refusals), (list) => list.includes(first));

      const second = await send();
      const again = await waitFor(() => notificationsOf(alice), (list) => list.some((n) => n.tag === second), { ms: 30_000 });
      assert.equal(again.find((n) => n.tag === second).data.inviterID, 'alice');
      await alice.evaluate(() => window.alice.dispose());
    } finally {
      if (browser) await bounded(browser.close(), 10_000);
      await stack.close();
    }
  });
});


