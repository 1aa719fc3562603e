/**
 * A tab killed mid-call: its renderer crashes, nothing closes, and the other
 * side must notice by itself (heartbeat, acks) and deliver once the user is back.
 */
import { expect } from '@esm-bundle/chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { FAST_DELIVERY, Harness, next, peerOptions, uniqueId } from './helpers.js';

interface PageCommand {
  action: string;
  [key: string]: unknown;
}
const page = <T = Record<string, unknown>>(payload: PageCommand) => executeServerCommand<T, PageCommand>('page', payload);

describe('faults: a remote tab that vanishes without closing', () => {
  const harness = new Harness();
  const handles: number[] = [];
  afterEach(async () => {
    for (const handle of handles.splice(0)) await page({ action: 'close', handle });
    await harness.cleanup();
  });

  async function openPeerPage(id: string): Promise<number> {
    const { handle } = await page<{ handle: number }>({ action: 'open', url: '/test/fixtures/peer-page.html', isolated: true });
    handles.push(handle);
    await page({ action: 'waitFor', handle, expression: 'window.testPeer !== undefined' });
    const options = { peer: await peerOptions(), delivery: FAST_DELIVERY, storage: 'memory' };
    await page({ action: 'evaluate', handle, expression: `window.testPeer.connect(${JSON.stringify(id)}, ${JSON.stringify(options)})` });
    return handle;
  }

  it('7b. notices the dead channel, keeps the invitation, and delivers it when the user comes back', async () => {
    const alice = await harness.user('alice');
    const bobId = uniqueId('bob');
    const first = await openPeerPage(bobId);

    // An open, used connection first, so that the crash leaves it dangling.
    const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
    await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bobId], timeout: 30, type: 0, data: 'warm-up' });
    await delivered;
    expect(alice.plugin.stats().openConnections).to.equal(1);

    await page({ action: 'crash', handle: first });
    handles.splice(handles.indexOf(first), 1);
    const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'A', invitees: [bobId], timeout: 30, type: 0, data: 'after the crash' });

    // Heartbeat: the silent connection is closed within a few intervals.
    const deadline = performance.now() + 10_000;
    while (alice.plugin.stats().openConnections > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alice.plugin.stats().openConnections).to.equal(0);
    expect(alice.plugin.stats().pendingDeliveries).to.equal(1);

    const second = await openPeerPage(bobId);
    await page({ action: 'waitFor', handle: second, expression: `window.testPeer.events.some((e) => e.event === 'received' && e.value.invitationID === ${JSON.stringify(invitationID)})`, timeoutMs: 30_000 });
    const accepted = next(alice.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 20_000);
    await page({ action: 'evaluate', handle: second, expression: `window.testPeer.accept(${JSON.stringify(invitationID)})` });
    expect((await accepted).invitee).to.equal(bobId);
  });
});
