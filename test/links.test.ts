/**
 * Which connection a message goes on when a peer has two: after a tab dies
 * without closing, its connection still reads `open` on this side for seconds
 * (BROWSER-TESTING.md facts 4 and 19), and nothing written on it arrives.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPluginOptions } from '../src/index.js';
import { Harness, next, pageCommand, peerPageHas, uniqueId } from './helpers.js';

describe('links: a peer that comes back in a new tab', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it("answers on the new tab's connection, not on the dead tab's stale one", async () => {
    // Slow heartbeats and acks: a message written on the stale channel would take many seconds to be noticed and resent.
    const slow = { heartbeatIntervalMs: 10_000, ackTimeoutMs: 20_000 };
    const bob = await harness.user('bob', { storage: 'memory', delivery: slow });
    const aliceId = uniqueId('alice');
    const aliceOptions: SignalingPluginOptions = { storage: 'memory', delivery: slow };
    const invite = (handle: number) =>
      pageCommand<{ value: string }>({
        action: 'evaluate',
        handle,
        expression: `window.testPeer.send({ inviterName: 'Alice', invitees: [${JSON.stringify(bob.id)}], timeout: 60, type: 0, data: '' })`,
      }).then(({ value }) => value);

    const first = await harness.peerPage(aliceId, { options: aliceOptions });
    const ringsFirst = next(bob.plugin.invitationReceived$);
    const firstID = await invite(first);
    expect((await ringsFirst).invitationID).to.equal(firstID);

    await harness.crashPage(first);
    const second = await harness.peerPage(aliceId, { options: aliceOptions });
    const ringsSecond = next(bob.plugin.invitationReceived$);
    const invitationID = await invite(second);
    expect((await ringsSecond).invitationID).to.equal(invitationID);

    const answeredAt = performance.now();
    expect((await bob.plugin.acceptInvitation({ invitationID })).error).to.equal(undefined);
    // Well under the stale channel's life (ICE gives up after about 7 s) and the 20 s ack timeout.
    await pageCommand({ action: 'waitFor', handle: second, expression: peerPageHas('accepted', invitationID), timeoutMs: 5000 });
    console.log(`new tab: the accept reached it ${Math.round(performance.now() - answeredAt)} ms after Bob answered`);
    expect(bob.plugin.stats().openConnections).to.equal(1);
  });
});
