/**
 * Busy across two tabs of one user (issue #20), real PeerServer, real Web Locks:
 * a tab that is busy makes the user refuse as busy in every tab, without ringing;
 * its busy goes with it when its renderer crashes.
 */
import { expect } from '@esm-bundle/chai';
import { Harness, next, pageCommand as page, peerPageHas as hasEvent, uniqueId } from './helpers.js';

describe('busy across tabs', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  const evaluate = async <T>(handle: number, expression: string): Promise<T> => (await page<{ value: T }>({ action: 'evaluate', handle, expression })).value;
  const received = (handle: number) => evaluate<number>(handle, `window.testPeer.events.filter((e) => e.event === 'received').length`);

  it('chromium: busy in the second tab refuses in both as busy; once that tab crashed, calls ring again', async () => {
    const caller = await harness.user('caller');
    harness.track(`${caller.databaseName}:history`);
    const calleeId = uniqueId('callee');
    harness.track(`peer-invitation:${calleeId}`);
    harness.track(`peer-invitation:${calleeId}:history`);
    const tabs = [
      await harness.peerPage(calleeId, { tab: true, options: { refuseWhenBusy: true } }),
      await harness.peerPage(calleeId, { tab: true, options: { refuseWhenBusy: true } }),
    ];
    await evaluate(tabs[1]!, 'window.testPeer.setBusy(true)');

    const refused = next(caller.plugin.invitationRefused$);
    const { invitationID, error } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
    expect(error).to.equal(undefined);
    expect(await refused).to.deep.equal({ invitationID, invitee: calleeId, data: '', reason: 'busy' });
    for (const tab of tabs) expect(await received(tab)).to.equal(0);

    await harness.crashPage(tabs[1]!);
    const again = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
    await page({ action: 'waitFor', handle: tabs[0], expression: hasEvent('received', again.invitationID) });
  });
});
