/**
 * One user in several tabs of one browser profile (issue #10): peer pages that
 * share a browser context, so they share Web Locks, BroadcastChannel and
 * IndexedDB. The first tab to connect holds the PeerServer registration; the
 * others work through it. Each test uses ids of its own, so locks and channels
 * never meet another test's.
 */
import { expect } from '@esm-bundle/chai';
import type { InvitationError } from '../src/index.js';
import { Harness, next, pageCommand as page, peerPageHas as hasEvent, record, uniqueId } from './helpers.js';

type Browser = 'chromium' | 'firefox';

describe('one user in several tabs', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  /** Tabs of one profile connected as `id`, in order: the first one holds the registration. */
  async function openTabs(id: string, count: number, browser: Browser = 'chromium'): Promise<number[]> {
    harness.track(`peer-invitation:${id}`);
    const tabs: number[] = [];
    for (let index = 0; index < count; index += 1) {
      tabs.push(await harness.peerPage(id, { tab: true, browser, options: { recordNotifications: true } }));
    }
    return tabs;
  }

  const evaluate = async <T>(handle: number, expression: string): Promise<T> => (await page<{ value: T }>({ action: 'evaluate', handle, expression })).value;
  const waitFor = (handle: number, expression: string) => page({ action: 'waitFor', handle, expression });
  const count = (handle: number, event: string, invitationID: string) =>
    evaluate<number>(handle, `window.testPeer.events.filter((e) => e.event === ${JSON.stringify(event)} && e.value.invitationID === ${JSON.stringify(invitationID)}).length`);
  const answer = (handle: number, verb: 'accept' | 'refuse', invitationID: string) =>
    evaluate<string | null>(handle, `window.testPeer.${verb}(${JSON.stringify(invitationID)}).then((r) => r.error ? r.error.code : null)`);
  const lastState = (handle: number) => evaluate<string>(handle, `window.testPeer.events.filter((e) => e.event === 'connectionState').at(-1)?.value`);

  for (const browser of ['chromium', 'firefox'] as const) {
    for (const tabCount of [2, 3]) {
      it(`${browser}: ${tabCount} tabs connect and ring; one answers, the inviter hears it once, the others hear it was answered elsewhere`, async () => {
        const caller = await harness.user('caller');
        const calleeId = uniqueId('callee');
        const tabs = await openTabs(calleeId, tabCount, browser);
        for (const tab of tabs) expect(await lastState(tab)).to.equal('connected');

        const accepted = record(caller.plugin.invitationAccepted$);
        const { invitationID, error } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: 'ring' });
        expect(error).to.equal(undefined);
        for (const tab of tabs) await waitFor(tab, hasEvent('received', invitationID));

        // The last tab answers: a follower, so its answer goes through the leader.
        const answering = tabs.at(-1)!;
        const firstAccept = next(caller.plugin.invitationAccepted$, (event) => event.invitationID === invitationID);
        expect(await answer(answering, 'accept', invitationID)).to.equal(null);
        await firstAccept;
        for (const tab of tabs.slice(0, -1)) {
          await waitFor(tab, hasEvent('answeredElsewhere', invitationID));
          expect(await answer(tab, 'refuse', invitationID)).to.equal('ALREADY_RESPONDED');
        }
        expect(await count(answering, 'answeredElsewhere', invitationID)).to.equal(0);
        for (const tab of tabs) expect(await count(tab, 'received', invitationID)).to.equal(1);
        // Another tab's refusal must not reach the inviter as a second answer.
        await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: 'marker' }).then(async ({ invitationID: marker }) => {
          for (const tab of tabs) await waitFor(tab, hasEvent('received', marker));
        });
        expect(accepted.values.filter((event) => event.invitationID === invitationID)).to.have.length(1);
        accepted.stop();
      });
    }

    it(`${browser}: cancel and timeout reach every tab`, async () => {
      const caller = await harness.user('caller');
      const calleeId = uniqueId('callee');
      const tabs = await openTabs(calleeId, 3, browser);

      const canceled = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
      for (const tab of tabs) await waitFor(tab, hasEvent('received', canceled.invitationID));
      await caller.plugin.cancelInvitation({ invitationID: canceled.invitationID });
      for (const tab of tabs) await waitFor(tab, hasEvent('canceled', canceled.invitationID));

      const unanswered = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 2, type: 0, data: '' });
      for (const tab of tabs) await waitFor(tab, hasEvent('received', unanswered.invitationID));
      for (const tab of tabs) await waitFor(tab, hasEvent('timeout', unanswered.invitationID));
      expect(await answer(tabs[1]!, 'accept', unanswered.invitationID)).to.equal('EXPIRED');
    });

    it(`${browser}: a tab opened while an invitation rings rings too`, async () => {
      const caller = await harness.user('caller');
      const calleeId = uniqueId('callee');
      const [first] = await openTabs(calleeId, 1, browser);
      const { invitationID } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
      await waitFor(first!, hasEvent('received', invitationID));
      const [late] = await openTabs(calleeId, 1, browser);
      await waitFor(late!, hasEvent('received', invitationID));
      expect(await answer(late!, 'refuse', invitationID)).to.equal(null);
      await waitFor(first!, hasEvent('answeredElsewhere', invitationID));
    });

    it(`${browser}: inviter side: any tab sends, every tab sees the states and the answers, another tab cancels`, async () => {
      const callee = await harness.user('callee');
      const callerId = uniqueId('caller');
      const tabs = await openTabs(callerId, 3, browser);
      const params = (data: string) => JSON.stringify({ inviterName: 'C', invitees: [callee.id], timeout: 30, type: 0, data });

      const rings = next(callee.plugin.invitationReceived$);
      const answered = await evaluate<string>(tabs[2]!, `window.testPeer.send(${params('from a follower')})`);
      expect((await rings).invitationID).to.equal(answered);
      for (const tab of tabs) await waitFor(tab, `window.testPeer.events.some((e) => e.event === 'state' && e.value.invitationID === ${JSON.stringify(answered)} && e.value.state === 'delivered')`);
      await callee.plugin.acceptInvitation({ invitationID: answered });
      for (const tab of tabs) await waitFor(tab, hasEvent('accepted', answered));

      const ringsAgain = next(callee.plugin.invitationReceived$);
      const sentByOne = await evaluate<string>(tabs[1]!, `window.testPeer.send(${params('to be canceled')})`);
      expect((await ringsAgain).invitationID).to.equal(sentByOne);
      const canceledAt = next(callee.plugin.invitationCanceled$);
      expect(await evaluate(tabs[2]!, `window.testPeer.cancel(${JSON.stringify(sentByOne)})`)).to.equal(null);
      expect((await canceledAt).invitationID).to.equal(sentByOne);
      for (const tab of tabs) await waitFor(tab, `window.testPeer.events.some((e) => e.event === 'state' && e.value.invitationID === ${JSON.stringify(sentByOne)} && e.value.state === 'canceled')`);

      const unanswered = await evaluate<string>(tabs[0]!, `window.testPeer.send(${JSON.stringify({ inviterName: 'C', invitees: [callee.id], timeout: 2, type: 0, data: '' })})`);
      for (const tab of tabs) await waitFor(tab, hasEvent('responseTimeout', unanswered));
    });

    it(`${browser}: the holding tab closes mid-ring: the invitation still rings in the others, is answerable there, and the answer arrives`, async () => {
      const caller = await harness.user('caller');
      const calleeId = uniqueId('callee');
      const [holder, ...others] = await openTabs(calleeId, 3, browser);
      const { invitationID } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
      for (const tab of [holder!, ...others]) await waitFor(tab, hasEvent('received', invitationID));

      const accepted = next(caller.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 20_000);
      const closing = performance.now();
      await page({ action: 'close', handle: holder });
      expect(await answer(others[1]!, 'accept', invitationID)).to.equal(null);
      expect((await accepted).invitee).to.equal(calleeId);
      console.log(`${browser}: holder closed mid-ring; the answer given meanwhile reached the inviter ${Math.round(performance.now() - closing)} ms after the close began`);
      await waitFor(others[0]!, hasEvent('answeredElsewhere', invitationID));
      for (const tab of others) expect(await count(tab, 'received', invitationID)).to.equal(1);
      for (const tab of others) await waitFor(tab, `window.testPeer.events.filter((e) => e.event === 'connectionState').at(-1)?.value === 'connected'`);
    });

    it(`${browser}: disconnectUser in the holding tab disconnects that tab only; another takes over`, async () => {
      const caller = await harness.user('caller');
      const calleeId = uniqueId('callee');
      const [holder, other] = await openTabs(calleeId, 2, browser);
      await evaluate(holder!, 'window.testPeer.disconnect()');
      expect(await lastState(holder!)).to.equal('disconnected');
      const { invitationID } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: '' });
      await waitFor(other!, hasEvent('received', invitationID));
      expect(await count(holder!, 'received', invitationID)).to.equal(0);
    });

    it(`${browser}: two users in one browser stay apart`, async () => {
      const caller = await harness.user('caller');
      const annId = uniqueId('ann');
      const benId = uniqueId('ben');
      const annTabs = await openTabs(annId, 2, browser);
      const benTabs = await openTabs(benId, 2, browser);
      const toAnn = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [annId], timeout: 30, type: 0, data: '' });
      const toBen = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [benId], timeout: 30, type: 0, data: '' });
      for (const tab of annTabs) await waitFor(tab, hasEvent('received', toAnn.invitationID));
      for (const tab of benTabs) await waitFor(tab, hasEvent('received', toBen.invitationID));
      for (const tab of annTabs) expect(await count(tab, 'received', toBen.invitationID)).to.equal(0);
      for (const tab of benTabs) expect(await count(tab, 'received', toAnn.invitationID)).to.equal(0);
      expect(await answer(benTabs[1]!, 'accept', toAnn.invitationID)).to.equal('NOT_FOUND');
    });
  }

  // Chromium tabs in both runs: crashing a renderer takes the DevTools Protocol (Firefox's BiDi has no such command).
  it('chromium: the holding tab crashes: the next invitation rings in a surviving tab', async () => {
    const caller = await harness.user('caller');
    const calleeId = uniqueId('callee');
    const [holder, survivor] = await openTabs(calleeId, 2);
    const crashing = performance.now();
    await harness.crashPage(holder!);
    const { invitationID } = await caller.plugin.sendInvitation({ inviterName: 'C', invitees: [calleeId], timeout: 30, type: 0, data: 'after the crash' });
    await page({ action: 'waitFor', handle: survivor, expression: hasEvent('received', invitationID), timeoutMs: 19_000 });
    console.log(`holder crashed; the next invitation rang in the surviving tab ${Math.round(performance.now() - crashing)} ms after the crash began`);
    const accepted = next(caller.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 19_000);
    expect(await answer(survivor!, 'accept', invitationID)).to.equal(null);
    await accepted;
    // The takeover: the survivor registered (retrying in the background while the server still held the id), and said so at most once.
    await waitFor(survivor!, `window.testPeer.events.filter((e) => e.event === 'connectionState').at(-1)?.value === 'connected'`);
    const errors = await evaluate<{ code: string }[]>(survivor!, `window.testPeer.events.filter((e) => e.event === 'error').map((e) => e.value)`);
    console.log(`holder crashed; the survivor's errors$ said ${JSON.stringify(errors.map((error) => error.code))} while it took over`);
    expect(errors.filter((error) => error.code !== 'USER_ID_TAKEN'), 'errors$ other than USER_ID_TAKEN').to.deep.equal([]);
    expect(errors.length, 'USER_ID_TAKEN reports').to.be.at.most(1);
  });

  it('one notification per invitation, shown by the holding tab, closed when another tab answers', async () => {
    const caller = await harness.user('caller', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const calleeId = uniqueId('callee');
    const tabs = await openTabs(calleeId, 3);
    const { invitationID } = await caller.plugin.sendInvitation({
      inviterName: 'C',
      invitees: [calleeId],
      timeout: 30,
      type: 0,
      data: '',
      notificationConfig: { resourceID: 'r', title: 'Call', message: 'from C', notifyWhenAppIsInTheBackgroundOrQuit: true },
    });
    for (const tab of tabs) await waitFor(tab, hasEvent('received', invitationID));
    await waitFor(tabs[0]!, hasEvent('notified', invitationID));
    expect(await answer(tabs[2]!, 'accept', invitationID)).to.equal(null);
    await waitFor(tabs[0]!, hasEvent('notificationClosed', invitationID));
    for (const tab of tabs) expect(await count(tab, 'notified', invitationID)).to.equal(tab === tabs[0] ? 1 : 0);
  });

  it('an id generator that repeats itself is still reported when tabs are shared', async () => {
    const inviter = await harness.user('repeats', { createInvitationID: () => 'same' });
    const params = { inviterName: 'R', invitees: [uniqueId('nobody')], timeout: 10, type: 0, data: '' };
    expect((await inviter.plugin.sendInvitation(params)).error).to.equal(undefined);
    expect((await inviter.plugin.sendInvitation(params)).error?.code).to.equal('APP_CALLBACK_FAILED');
  });

  it('without Web Locks a second tab of the user gets USER_ID_TAKEN, as before tabs were shared', async () => {
    // Shadows Navigator.prototype.locks on this page's navigator until the test ends.
    Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true });
    try {
      const holder = await harness.user('holder');
      const second = await harness.plugin({ databaseName: `test:${holder.id}:second` });
      harness.track(`test:${holder.id}:second`);
      const error = await second.connectUser({ id: holder.id, name: 'again' }).catch((caught: InvitationError) => caught);
      expect((error as InvitationError).code).to.equal('USER_ID_TAKEN');
    } finally {
      delete (navigator as { locks?: unknown }).locks;
    }
    expect(navigator.locks).to.not.equal(undefined);
  });

  it('without tab sharing a second tab of the user gets USER_ID_TAKEN', async () => {
    const holder = await harness.user('holder', { tabs: false });
    const second = await harness.plugin({ tabs: false, databaseName: `test:${holder.id}:second` });
    harness.track(`test:${holder.id}:second`);
    const error = await second.connectUser({ id: holder.id, name: 'again' }).catch((caught: InvitationError) => caught);
    expect((error as InvitationError).code).to.equal('USER_ID_TAKEN');
  });
});
