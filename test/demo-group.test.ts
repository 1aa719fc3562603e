/**
 * The demo's group calls (advanced mode), driven by clicking in real demo pages over the test
 * runner's PeerServer: start a call, refuse and join late, add someone, end for all.
 */
import { expect } from '@esm-bundle/chai';
import { uniqueId } from './helpers.js';
import { Tabs, attr, type DemoTab } from './demo-support/tabs.js';

const DEMO = '/demo/index.html';

describe('demo page: group calls', function () {
  this.timeout(120_000);
  const tabs = new Tabs();
  afterEach(() => tabs.cleanup());

  const card = (callID: string) => `[data-testid="group-call"]${attr('data-call-id', callID)}`;
  const member = (callID: string, id: string) => `${card(callID)} [data-testid="roster"] li${attr('data-user', id)}`;
  /** Waits for a roster row's state; on a miss, says what the row showed instead. */
  const waitForState = async (tab: DemoTab, callID: string, id: string, state: string) => {
    const row = `document.querySelector(${JSON.stringify(member(callID, id))})`;
    try {
      await tab.tab.waitFor(`${row}?.dataset.state === ${JSON.stringify(state)}`, 15_000);
    } catch (error) {
      const shown = await tab.tab.evaluate<string>(`${row}?.dataset.state ?? 'no row'`);
      throw new Error(`${tab.id}'s roster: ${id} is ${shown}, not ${state}, after 15 s (${String(error)})`);
    }
  };

  it('starts a call; Bob refuses, then joins late; Alice adds Carol, who joins; End for all ends it everywhere', async () => {
    const alice = await tabs.open(DEMO, uniqueId('alice'), 'Alice');
    const bob = await tabs.open(DEMO, uniqueId('bob'), 'Bob');
    const carol = await tabs.open(DEMO, uniqueId('carol'), 'Carol');

    await alice.tab.type('#group-invitees', bob.id);
    await alice.tab.click('#start-group');
    await alice.tab.waitForElement('[data-testid="group-call"]');
    const callID = await alice.tab.evaluate<string>(`document.querySelector('[data-testid="group-call"]').dataset.callId`);

    await bob.waitForRinging(alice.id);
    await bob.tab.click(`${bob.incoming(alice.id)} [data-testid="refuse"]`);
    await waitForState(alice, callID, bob.id, 'refused');
    await bob.tab.click(`${card(callID)} [data-testid="join"]`);
    await waitForState(alice, callID, bob.id, 'accepted');

    await alice.tab.type(`${card(callID)} input`, carol.id);
    await alice.tab.click(`${card(callID)} [data-testid="add"]`);
    await carol.tab.waitForElement(card(callID));
    await carol.tab.click(`${card(callID)} [data-testid="join"]`);
    for (const tab of [alice, bob, carol]) await waitForState(tab, callID, carol.id, 'accepted');

    await alice.tab.click(`${card(callID)} [data-testid="end-for-all"]`);
    for (const tab of [alice, bob, carol]) {
      await tab.tab.waitFor(`document.querySelector(${JSON.stringify(card(callID))}).dataset.ended === 'true'`, 15_000);
      for (const id of [alice.id, bob.id, carol.id]) await waitForState(tab, callID, id, 'ended');
      await tab.waitForLog('invitationEnded$');
    }
    // Joining after the end is refused with a clear message.
    await carol.tab.click(`${card(callID)} [data-testid="join"]`);
    await carol.tab.waitForText(`${card(callID)} .status`, `Call "${callID}" has ended`);
    expect(await tabs.errors()).to.deep.equal([]);
  });
});
