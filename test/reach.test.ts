/**
 * Reaching an invitee without a data channel, in Chromium on loopback against a
 * plain PeerServer: the invite rings from the OFFER's metadata although ICE never
 * completes (remote candidates are dropped in this page), the inviter then hears
 * `unreachable`; offers with garbage metadata ring nothing and are reported; offers
 * over the rate are dropped before their metadata is read; no WebRTC, a clear error.
 */
import { expect } from '@esm-bundle/chai';
import type { InvitationError } from '../src/errors.js';
import { PROTOCOL_VERSION } from '../src/core/protocol.js';
import { PARKED_WINDOW_MS } from '../src/transport/peerjs/signal-frames.js';
import { Harness, next, quiet, record, uniqueId } from './helpers.js';

const V = PROTOCOL_VERSION;

function inviteFrame(invitationID: string): object {
  return { v: V, kind: 'invite', invitationID, inviterName: 'Raw', type: 0, data: '', remainingMs: 60_000 };
}

/** Invites beside a channel are not read this soon after registering (they may have been parked): wait it out. */
const pastParkedWindow = () => quiet(PARKED_WINDOW_MS);

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Drops every remote ICE candidate in this page, so that no connection here ever opens; `restore` undoes it. */
function withoutIce(): { restore(): void } {
  const original = RTCPeerConnection.prototype.addIceCandidate;
  RTCPeerConnection.prototype.addIceCandidate = function () {
    return Promise.resolve();
  };
  return { restore: () => void (RTCPeerConnection.prototype.addIceCandidate = original) };
}

describe('reach: ring on the offer (plain PeerServer)', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('rings from the OFFER metadata when ICE never completes, and the inviter sees unreachable', async () => {
    const ice = withoutIce();
    try {
      const alice = await harness.user('alice', { storage: 'memory' });
      const bob = await harness.user('bob', { storage: 'memory' });
      await pastParkedWindow();
      const rang = record(bob.plugin.invitationReceived$);
      const unreachable = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'unreachable', 30_000);
      const error = next(alice.plugin.errors$, (error) => error.code === 'PEER_UNREACHABLE', 30_000);
      const rings = next(bob.plugin.invitationReceived$);
      const sentAt = performance.now();
      const { invitationID, error: sendError } = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 0, data: 'hi' });
      expect(sendError).to.equal(undefined);
      expect((await rings).invitationID).to.equal(invitationID);
      console.log(`ring on the offer, no ICE: rang ${Math.round(performance.now() - sentAt)} ms after sendInvitation`);
      expect(bob.plugin.stats().openConnections, 'rang with no connection open').to.equal(0);
      expect((await unreachable).invitee).to.equal(bob.id);
      console.log(`ring on the offer, no ICE: unreachable ${Math.round(performance.now() - sentAt)} ms after sendInvitation`);
      const reported = await error;
      expect(reported.message).to.contain(bob.id).and.contain('TURN');
      // The inviter retries (each offer carrying the invite again): it rings once.
      await until(() => alice.plugin.stats().connectAttempts >= 2, 15_000, 'a retried offer');
      await quiet(500);
      expect(rang.values.map((event) => event.invitationID)).to.deep.equal([invitationID]);
      rang.stop();
    } finally {
      ice.restore();
    }
  });

  it('an offer with garbage metadata rings nothing and is reported', async () => {
    const bob = await harness.user('bob', { storage: 'memory' });
    const raw = await harness.rawPeer('raw');
    await pastParkedWindow();
    const rang = record(bob.plugin.invitationReceived$);
    const reports = record(bob.plugin.errors$);
    const reported = (count: number) => next(bob.plugin.errors$, () => reports.values.filter((error: InvitationError) => error.code === 'PROTOCOL_VIOLATION').length >= count, 10_000);
    let first = reported(1);
    raw.peer.connect(bob.id, { reliable: true, serialization: 'json', metadata: { peerInvitation: 'ring ring' } });
    await first;
    // Quiet for a cool-down after one report: a second peer for the second kind of garbage.
    const raw2 = await harness.rawPeer('raw2');
    first = reported(2);
    raw2.peer.connect(bob.id, { reliable: true, serialization: 'json', metadata: { peerInvitation: [{ v: V, kind: 'invite', invitationID: 42 }, null, 'x'] } });
    await first;
    await quiet(500);
    expect(rang.values, 'nothing rang').to.deep.equal([]);
    const messages = reports.values.map((error: InvitationError) => error.message).join('\n');
    expect(messages).to.contain(raw.id).and.contain(raw2.id);
    rang.stop();
    reports.stop();
  });

  it('drops offers over the rate before reading what they carry', async () => {
    const bob = await harness.user('bob', { storage: 'memory' });
    const raw = await harness.rawPeer('burst');
    await pastParkedWindow();
    const rang = record(bob.plugin.invitationReceived$);
    const ids = Array.from({ length: 20 }, () => `${raw.id}:${uniqueId('inv')}`);
    const reported = next(bob.plugin.errors$, (error) => error.code === 'PROTOCOL_VIOLATION' && error.message.includes(raw.id), 10_000);
    for (const id of ids) raw.peer.connect(bob.id, { reliable: true, serialization: 'json', metadata: { peerInvitation: [inviteFrame(id)] } });
    await reported;
    await quiet(500);
    const { refusedOffers = 0 } = bob.plugin.stats();
    console.log(`offer rate: ${rang.values.length} of ${ids.length} offers rang, ${refusedOffers} refused unseen`);
    expect(rang.values.length, 'rang: the burst allowance at most').to.be.at.most(6).and.at.least(1);
    expect(refusedOffers).to.be.at.least(ids.length - 6);
    rang.stop();
  });
});

/**
 * A test-only stand-in for the companion server's side of CONTRACT.md §2–3, in this page:
 * every PeerServer socket opened here gets `info` as SERVER-INFO right after OPEN, and a
 * RELAY a socket sends goes to the socket of its `dst` with `src` set from the sender's
 * registration (instead of to the real, plain PeerServer). Also records each new
 * RTCPeerConnection's configuration.
 */
function fakeCompanion(info: object): { relayed: { from: string; to: string; kind: unknown }[]; configs: (RTCConfiguration | undefined)[]; restore(): void } {
  const OriginalSocket = window.WebSocket;
  const OriginalConnection = window.RTCPeerConnection;
  const sockets = new Map<string, WebSocket>();
  const relayed: { from: string; to: string; kind: unknown }[] = [];
  const configs: (RTCConfiguration | undefined)[] = [];
  const deliver = (socket: WebSocket | undefined, message: object) =>
    setTimeout(() => socket?.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(message) })));
  class Companion extends OriginalSocket {
    readonly #id: string;
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.#id = new URL(url).searchParams.get('id') ?? '';
      sockets.set(this.#id, this);
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string' && JSON.parse(event.data).type === 'OPEN') deliver(this, { type: 'SERVER-INFO', payload: info });
      });
    }
    override send(data: string): void {
      const message = JSON.parse(data) as { type?: string; dst?: string; payload?: { kind?: unknown } };
      if (message.type !== 'RELAY') return super.send(data);
      relayed.push({ from: this.#id, to: message.dst ?? '', kind: message.payload?.kind });
      deliver(sockets.get(message.dst ?? ''), { type: 'RELAY', src: this.#id, dst: message.dst, payload: message.payload });
    }
  }
  class Recorded extends OriginalConnection {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      configs.push(configuration);
    }
  }
  window.WebSocket = Companion;
  window.RTCPeerConnection = Recorded;
  return {
    relayed,
    configs,
    restore() {
      window.WebSocket = OriginalSocket;
      window.RTCPeerConnection = OriginalConnection;
    },
  };
}

describe('reach: the relay client (against a stand-in for the companion server)', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('acks and answers go through the relay when no channel opens; TURN servers are used after the app\'s', async () => {
    const turn = { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1:alice', credential: 'c' };
    const companion = fakeCompanion({ relay: true, iceServers: [turn] });
    const ice = withoutIce();
    try {
      const alice = await harness.user('alice', { storage: 'memory' });
      const bob = await harness.user('bob', { storage: 'memory' });
      await pastParkedWindow();
      const rings = next(bob.plugin.invitationReceived$);
      const delivered = next(alice.plugin.inviteeStateChanged$, (event) => event.state === 'delivered');
      const { invitationID } = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 0, data: 'hi' });
      expect((await rings).invitationID).to.equal(invitationID);
      // Only the relay can bring the invite's ack back: no channel opens, and offers carry no acks.
      expect((await delivered).invitee).to.equal(bob.id);
      const accepted = next(alice.plugin.invitationAccepted$);
      expect((await bob.plugin.acceptInvitation({ invitationID, data: 'yes' })).error).to.equal(undefined);
      expect((await accepted).data).to.equal('yes');
      expect(alice.plugin.stats().openConnections + bob.plugin.stats().openConnections, 'open data channels').to.equal(0);
      const kinds = (from: string) => companion.relayed.filter((entry) => entry.from === from).map((entry) => entry.kind);
      expect(kinds(bob.id), 'relayed by the invitee').to.include('ack');
      expect(kinds(alice.id), 'relayed by the inviter').to.include('invite');
      // The app's iceServers ([] here), then the server's.
      expect(companion.configs.length).to.be.greaterThan(0);
      for (const config of companion.configs) expect(config?.iceServers).to.deep.equal([turn]);
    } finally {
      ice.restore();
      companion.restore();
    }
  });

  it('relay: false sends nothing through the server', async () => {
    const companion = fakeCompanion({ relay: true });
    const ice = withoutIce();
    try {
      const alice = await harness.user('alice', { storage: 'memory', relay: false });
      const bob = await harness.user('bob', { storage: 'memory', relay: false });
      const rings = next(bob.plugin.invitationReceived$);
      await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 0, data: 'hi' });
      await rings;
      await quiet(1000);
      expect(companion.relayed).to.deep.equal([]);
    } finally {
      ice.restore();
      companion.restore();
    }
  });
});

describe('reach: a browser without WebRTC', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('connectUser rejects with WEBRTC_UNSUPPORTED', async () => {
    const original = window.RTCPeerConnection;
    (window as { RTCPeerConnection?: unknown }).RTCPeerConnection = undefined;
    try {
      const plugin = await harness.plugin({ storage: 'memory' });
      const failure = await plugin.connectUser({ id: uniqueId('nowebrtc'), name: 'x' }).then(
        () => undefined,
        (error: InvitationError) => error,
      );
      expect(failure?.code).to.equal('WEBRTC_UNSUPPORTED');
    } finally {
      window.RTCPeerConnection = original;
    }
  });
});
