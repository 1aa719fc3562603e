/**
 * Interop: a plugin in this page and one in a page of the other browser (this file
 * runs in Chromium, with a Firefox ESR peer page, and in Firefox, with a Chromium
 * one: the fixture page, opened by the `page` command with `browser`) invite each
 * other over a real WebRTC data channel through the local PeerServer.
 */
import { expect } from '@esm-bundle/chai';
import { BROWSER, Harness, next, OTHER_BROWSER, pageCommand as page, peerPageHas as hasEvent, uniqueId } from './helpers.js';

describe(`interop: ${BROWSER} with ${OTHER_BROWSER}`, () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  /** A plugin in a page of the other browser, connected as `id`; IndexedDB storage, so that browser's store is exercised too. */
  const openOtherPeer = (id: string) => harness.peerPage(id, { browser: OTHER_BROWSER, options: { databaseName: `test:${id}` } });

  async function expectNoPageErrors(handle: number): Promise<void> {
    const { errors } = await page<{ errors: string[] }>({ action: 'errors', handle });
    expect(errors).to.deep.equal([]);
  }

  it(`${BROWSER} invites, ${OTHER_BROWSER} rings and accepts, ${BROWSER} sees the acceptance`, async () => {
    const alice = await harness.user('alice');
    const foxId = uniqueId('fox');
    const fox = await openOtherPeer(foxId);

    const { invitationID, error } = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [foxId], timeout: 30, type: 1, data: 'from chromium' });
    expect(error).to.equal(undefined);
    await page({ action: 'waitFor', handle: fox, expression: hasEvent('received', invitationID) });
    const { value: received } = await page<{ value: { inviter: { id: string }; type: number; data: string } }>({
      action: 'evaluate',
      handle: fox,
      expression: `window.testPeer.events.find((e) => e.event === 'received').value`,
    });
    expect(received).to.include({ type: 1, data: 'from chromium' });
    expect(received.inviter.id).to.equal(alice.id);

    const accepted = next(alice.plugin.invitationAccepted$, (event) => event.invitationID === invitationID);
    await page({ action: 'evaluate', handle: fox, expression: `window.testPeer.accept(${JSON.stringify(invitationID)})` });
    expect((await accepted).invitee).to.equal(foxId);
    await expectNoPageErrors(fox);
  });

  it(`${OTHER_BROWSER} invites, ${BROWSER} rings and refuses, ${OTHER_BROWSER} sees the refusal`, async () => {
    const bob = await harness.user('bob');
    const foxId = uniqueId('fox');
    const fox = await openOtherPeer(foxId);

    const rings = next(bob.plugin.invitationReceived$);
    const params = { inviterName: 'Fox', invitees: [bob.id], timeout: 30, type: 0, data: 'from firefox' };
    const { value: invitationID } = await page<{ value: string }>({ action: 'evaluate', handle: fox, expression: `window.testPeer.send(${JSON.stringify(params)})` });
    const received = await rings;
    expect(received).to.include({ invitationID, data: 'from firefox' });
    expect(received.inviter).to.deep.equal({ id: foxId, name: 'Fox' });

    const { error } = await bob.plugin.refuseInvitation({ invitationID });
    expect(error).to.equal(undefined);
    await page({ action: 'waitFor', handle: fox, expression: hasEvent('refused', invitationID) });
    const { value: refused } = await page<{ value: { invitee: string } }>({
      action: 'evaluate',
      handle: fox,
      expression: `window.testPeer.events.find((e) => e.event === 'refused').value`,
    });
    expect(refused.invitee).to.equal(bob.id);
    await expectNoPageErrors(fox);
  });
});
