/**
 * One-time events survive reloads once (issue 15 item 9): an inviter whose page
 * reloads after an invitation's deadline hears `invitationResponseTimeout$` on
 * restore; a page loaded after that one hears the invitee's state again, never
 * the one-time event. Real PeerServer, real page reloads, real IndexedDB.
 */
import { expect } from '@esm-bundle/chai';
import { FAST_DELIVERY, Harness, pageCommand, peerOptions, peerPageHas, uniqueId } from './helpers.js';

interface Recorded {
  event: string;
  value: { invitationID?: string; invitee?: string; state?: string; invitees?: string[] };
}

const TIMEOUT_S = 1.5;

describe('one-time events across reloads', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function evaluate<T>(handle: number, expression: string): Promise<T> {
    return (await pageCommand<{ value: T }>({ action: 'evaluate', handle, expression })).value;
  }

  async function events(handle: number, invitationID: string): Promise<Recorded[]> {
    const all = await evaluate<Recorded[]>(handle, 'window.testPeer.events');
    return all.filter((recorded) => recorded.value?.invitationID === invitationID);
  }

  /** Reloads the page and connects a plugin on the same database again, as the app would at start. */
  async function reloadAndConnect(handle: number, id: string, options: object): Promise<void> {
    await pageCommand({ action: 'reload', handle });
    await pageCommand({ action: 'waitFor', handle, expression: 'window.testPeer !== undefined' });
    await evaluate(handle, `window.testPeer.connect(${JSON.stringify(id)}, ${JSON.stringify(options)})`);
  }

  it('an inviter reloaded twice after the deadline hears invitationResponseTimeout$ once, then only the state', async () => {
    const aliceId = uniqueId('alice');
    const bobId = uniqueId('bob'); // never connects: the invitation can only time out
    // Remembered long after the deadline, so both reloads find it in the store.
    const options = { peer: await peerOptions(), databaseName: `test:${aliceId}`, delivery: { ...FAST_DELIVERY, retentionMs: 60_000 } };
    const alice = await harness.peerPage(aliceId, { options });
    const params = { inviterName: 'Alice', invitees: [bobId], timeout: TIMEOUT_S, type: 0, data: '' };
    const deadline = Date.now() + TIMEOUT_S * 1000;
    const invitationID = await evaluate<string>(alice, `window.testPeer.send(${JSON.stringify(params)})`);

    // The page goes before the deadline; the next one connects after it.
    await pageCommand({ action: 'reload', handle: alice });
    await pageCommand({ action: 'waitFor', handle: alice, expression: `window.testPeer !== undefined && Date.now() > ${deadline + 500}` });
    await evaluate(alice, `window.testPeer.connect(${JSON.stringify(aliceId)}, ${JSON.stringify(options)})`);
    await pageCommand({ action: 'waitFor', handle: alice, expression: peerPageHas('responseTimeout', invitationID) });
    const first = await events(alice, invitationID);
    expect(first.filter((recorded) => recorded.event === 'responseTimeout').map((recorded) => recorded.value)).to.deep.equal([{ invitationID, invitees: [bobId] }]);
    expect(first.filter((recorded) => recorded.event === 'state').map((recorded) => recorded.value)).to.deep.equal([{ invitationID, invitee: bobId, state: 'timeout' }]);

    await reloadAndConnect(alice, aliceId, options);
    const timeoutState = `window.testPeer.events.some((e) => e.event === 'state' && e.value.invitationID === ${JSON.stringify(invitationID)} && e.value.state === 'timeout')`;
    await pageCommand({ action: 'waitFor', handle: alice, expression: timeoutState });
    const second = await events(alice, invitationID);
    expect(second.map((recorded) => recorded.event), 'the second page after the deadline').to.deep.equal(['state']);
    expect(second[0]!.value).to.deep.equal({ invitationID, invitee: bobId, state: 'timeout' });
  });
});
