/**
 * A tab killed mid-call: its renderer crashes, nothing closes, and the other
 * side must notice by itself (heartbeat, acks) and deliver once the user is back.
 */
import { expect } from '@esm-bundle/chai';
import { Harness, next, pageCommand, peerPageHas, uniqueId } from './helpers.js';

describe('faults: a remote tab that vanishes without closing', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('7b. notices the dead channel, keeps the invitation, and delivers it when the user comes back', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    // A Chromium page (the pages plugin launches one when this file runs in Firefox): crashing a renderer takes the DevTools Protocol.
    const first = await harness.peerPage(bobId, { browser: 'chromium', options: { storage: 'memory' } });

    // An open, used connection first, so that the crash leaves it dangling.
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bobId], timeout: 30, type: 0, data: 'warm-up' });
    await delivered;
    expect(alice.plugin.stats().openConnections).to.equal(1);

    await harness.crashPage(first);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bobId], timeout: 30, type: 0, data: 'after the crash' });

    // Heartbeat: the silent connection is closed within a few intervals.
    const deadline = performance.now() + 10_000;
    while (alice.plugin.stats().openConnections > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alice.plugin.stats().openConnections).to.equal(0);
    expect(alice.plugin.stats().pendingDeliveries).to.equal(1);

    const second = await harness.peerPage(bobId, { options: { storage: 'memory' } });
    await pageCommand({ action: 'waitFor', handle: second, expression: peerPageHas('received', invitationID), timeoutMs: 30_000 });
    const accepted = next(alice.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 20_000);
    await pageCommand({ action: 'evaluate', handle: second, expression: `window.testPeer.accept(${JSON.stringify(invitationID)})` });
    expect((await accepted).invitee).to.equal(bobId);
  });
});
