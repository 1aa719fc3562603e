/**
 * The call history in real IndexedDB (issue #20): one user in two tabs of one
 * browser profile, a real PeerServer and real data channels. A missed call, one
 * answered in the first tab and one in the second; after the first tab reloads,
 * both tabs list the same records with the same outcomes and `seen`.
 */
import { expect } from '@esm-bundle/chai';
import type { InvitationRecord } from '../src/index.js';
import { FAST_DELIVERY, Harness, next, pageCommand as page, peerOptions, peerPageHas as hasEvent, uniqueId } from './helpers.js';

describe('history in IndexedDB, across tabs and a reload', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  const evaluate = async <T>(handle: number, expression: string): Promise<T> => (await page<{ value: T }>({ action: 'evaluate', handle, expression })).value;
  const waitFor = (handle: number, expression: string) => page({ action: 'waitFor', handle, expression });
  const summary = (records: InvitationRecord[]) => records.map(({ invitationID, direction, outcome, seen }) => ({ invitationID, direction, outcome, seen }));

  for (const browser of ['chromium', 'firefox'] as const) {
    it(`${browser}: a missed call, one answered here and one in another tab keep their outcomes and seen after a reload`, async () => {
      const caller = await harness.user('caller');
      harness.track(`${caller.databaseName}:history`);
      const calleeId = uniqueId('callee');
      harness.track(`peer-invitation:${calleeId}`);
      harness.track(`peer-invitation:${calleeId}:history`);
      const options = browser === 'firefox' ? { browser } : {};
      const tabs = [await harness.peerPage(calleeId, { tab: true, ...options }), await harness.peerPage(calleeId, { tab: true, ...options })];
      const send = async () => {
        const { invitationID, error } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 1, data: 'call' });
        expect(error).to.equal(undefined);
        for (const tab of tabs) await waitFor(tab, hasEvent('received', invitationID));
        return invitationID;
      };

      const missed = await send();
      await caller.plugin.cancelInvitation({ invitationID: missed });
      for (const tab of tabs) await waitFor(tab, hasEvent('canceled', missed));

      const answeredHere = await send();
      const acceptedHere = next(caller.plugin.invitationAccepted$, (event) => event.invitationID === answeredHere);
      await evaluate(tabs[0]!, `window.testPeer.accept(${JSON.stringify(answeredHere)})`);
      await acceptedHere;

      const answeredThere = await send();
      const acceptedThere = next(caller.plugin.invitationAccepted$, (event) => event.invitationID === answeredThere);
      await evaluate(tabs[1]!, `window.testPeer.accept(${JSON.stringify(answeredThere)})`);
      await acceptedThere;
      await waitFor(tabs[0]!, hasEvent('answeredElsewhere', answeredThere));
      await evaluate(tabs[1]!, `window.testPeer.markSeen([${JSON.stringify(missed)}])`);

      await page({ action: 'reload', handle: tabs[0] });
      await waitFor(tabs[0]!, 'window.testPeer !== undefined');
      const pluginOptions = { peer: await peerOptions(), delivery: FAST_DELIVERY };
      await evaluate(tabs[0]!, `window.testPeer.connect(${JSON.stringify(calleeId)}, ${JSON.stringify(pluginOptions)})`);

      const expected = [
        { invitationID: answeredThere, direction: 'incoming', outcome: 'accepted', seen: false },
        { invitationID: answeredHere, direction: 'incoming', outcome: 'accepted', seen: false },
        { invitationID: missed, direction: 'incoming', outcome: 'missed', seen: true },
      ];
      for (const tab of tabs) expect(summary(await evaluate<InvitationRecord[]>(tab, 'window.testPeer.history()'))).to.deep.equal(expected);
      const [record] = await evaluate<InvitationRecord[]>(tabs[0]!, `window.testPeer.history({ outcome: 'missed' })`);
      expect(record).to.deep.include({ inviter: { id: caller.id, name: 'C' }, type: 1, data: 'call', invitees: [] });

      const sent = (await caller.plugin.listInvitations()).invitations;
      expect(sent.map((entry) => [entry.invitationID, entry.invitees])).to.deep.equal([
        [answeredThere, [{ id: calleeId, outcome: 'accepted' }]],
        [answeredHere, [{ id: calleeId, outcome: 'accepted' }]],
        [missed, [{ id: calleeId, outcome: 'canceled' }]],
      ]);
    });
  }
});
