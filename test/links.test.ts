/**
 * Which connection a message goes on when a peer has two: after a tab dies
 * without closing, its connection still reads `open` on this side for seconds
 * (BROWSER-TESTING.md facts 4 and 19), and nothing written on it arrives.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPluginOptions } from '../src/index.js';
import { Harness, next, pageCommand, peerPageHas, uniqueId } from './helpers.js';

/** Records, in this page, every data channel a remote opens and every frame written on any channel; `restore` undoes it. */
function recordDataChannels(): { channels: RTCDataChannel[]; writes: { channel: RTCDataChannel; data: unknown }[]; restore(): void } {
  const channels: RTCDataChannel[] = [];
  const writes: { channel: RTCDataChannel; data: unknown }[] = [];
  const OriginalConnection = window.RTCPeerConnection;
  class Recorded extends OriginalConnection {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      this.addEventListener('datachannel', (event) => channels.push(event.channel));
    }
  }
  window.RTCPeerConnection = Recorded;
  const originalSend = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
    writes.push({ channel: this, data });
    return originalSend.call(this, data);
  };
  return {
    channels,
    writes,
    restore() {
      window.RTCPeerConnection = OriginalConnection;
      RTCDataChannel.prototype.send = originalSend;
    },
  };
}

describe('links: a peer that comes back in a new tab', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it("answers on the new tab's connection, not on the dead tab's stale one", async () => {
    const recorder = recordDataChannels();
    try {
      // Slow heartbeats and acks: the stale channel stays `open` here for seconds.
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

      // Crashing a renderer needs the DevTools Protocol: this page is Chromium in either run.
      const first = await harness.peerPage(aliceId, { browser: 'chromium', options: aliceOptions });
      const ringsFirst = next(bob.plugin.invitationReceived$);
      const firstID = await invite(first);
      expect((await ringsFirst).invitationID).to.equal(firstID);

      await harness.crashPage(first);
      const second = await harness.peerPage(aliceId, { options: aliceOptions });
      const ringsSecond = next(bob.plugin.invitationReceived$);
      const invitationID = await invite(second);
      expect((await ringsSecond).invitationID).to.equal(invitationID);
      expect(recorder.channels, 'data channels the two tabs opened to Bob').to.have.length(2);

      const acceptWrites = () => recorder.writes.filter(({ data }) => data instanceof ArrayBuffer && new TextDecoder().decode(data).includes('"kind":"accept"'));
      const answeredAt = performance.now();
      expect((await bob.plugin.acceptInvitation({ invitationID })).error).to.equal(undefined);
      while (acceptWrites().length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(recorder.channels.indexOf(acceptWrites()[0]!.channel), 'the channel the accept was first written on (0: the dead tab, 1: the new one)').to.equal(1);
      await pageCommand({ action: 'waitFor', handle: second, expression: peerPageHas('accepted', invitationID) });
      console.log(`new tab: the accept reached it ${Math.round(performance.now() - answeredAt)} ms after Bob answered`);
      // Written once on each open channel, the new one first: whichever dies, the answer is not lost.
      expect(acceptWrites().map(({ channel }) => recorder.channels.indexOf(channel)), 'channels written on, in order').to.deep.equal([1, 0]);
      // The dead tab's channel stays until the (slow) heartbeat closes it; nothing is written on it.
      expect(bob.plugin.stats().openConnections).to.equal(2);
    } finally {
      recorder.restore();
    }
  });
});
