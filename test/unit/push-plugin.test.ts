/** The plugin's Web Push wiring: the server channel's PUSH-SUBSCRIBE/PUSH-RESULT, the facade's outcomes, invitationReceived$'s acceptedFromNotification. */
import { expect } from '@esm-bundle/chai';
import type { InvitationReceivedEvent } from '../../src/api/events.js';
import { ServerChannel } from '../../src/transport/peerjs/server-channel.js';
import type { BoundedPeer, ServerMessage } from '../../src/transport/peerjs/patches.js';
import { World } from './world.js';

const KEY = 'BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const SUBSCRIPTION = { endpoint: 'https://push.example/1', keys: { p256dh: 'x', auth: 'y' } };

/** What ServerChannel reads of a Peer: its options, whether it is open, its socket, its server messages. */
function fakePeer() {
  const sent: { type: string; payload: unknown }[] = [];
  const peer = { options: {}, open: true, socket: { send: (frame: { type: string; payload: unknown }) => sent.push(frame) }, onServerMessage: (_: ServerMessage) => false };
  return { peer, sent, says: (message: ServerMessage) => peer.onServerMessage(message) };
}

describe('ServerChannel push link', () => {
  it('keeps the VAPID key of SERVER-INFO, and forgets it with the Peer', async () => {
    const channel = new ServerChannel(true, { relayed: () => undefined });
    const first = fakePeer();
    channel.attach(first.peer as unknown as BoundedPeer);
    expect(channel.push.pushKey()).to.equal(undefined);
    const ready = channel.push.ready!();
    expect(first.says({ type: 'SERVER-INFO', payload: { relay: true, push: { publicKey: KEY } } })).to.equal(true);
    await ready;
    expect(channel.push.pushKey()).to.equal(KEY);
    channel.attach(fakePeer().peer as unknown as BoundedPeer);
    expect(channel.push.pushKey()).to.equal(undefined);
  });

  it('a server without push, or a key that is not one, gives no key', () => {
    const channel = new ServerChannel(true, { relayed: () => undefined });
    const { peer, says } = fakePeer();
    channel.attach(peer as unknown as BoundedPeer);
    says({ type: 'SERVER-INFO', payload: { relay: true } });
    expect(channel.push.pushKey()).to.equal(undefined);
    says({ type: 'SERVER-INFO', payload: { relay: true, push: { publicKey: 'not a key' } } });
    expect(channel.push.pushKey()).to.equal(undefined);
  });

  it('sends PUSH-SUBSCRIBE on the socket and resolves with the PUSH-RESULT of its endpoint', async () => {
    const channel = new ServerChannel(true, { relayed: () => undefined });
    const { peer, sent, says } = fakePeer();
    channel.attach(peer as unknown as BoundedPeer);
    const result = channel.push.request({ type: 'PUSH-SUBSCRIBE', payload: { subscription: SUBSCRIPTION } });
    expect(sent).to.deep.equal([{ type: 'PUSH-SUBSCRIBE', payload: { subscription: SUBSCRIPTION } }]);
    expect(says({ type: 'PUSH-RESULT', payload: { endpoint: 'https://push.example/other', ok: true } })).to.equal(true);
    says({ type: 'PUSH-RESULT', payload: { endpoint: SUBSCRIPTION.endpoint, ok: false, reason: 'not-allowed' } });
    expect(await result).to.deep.equal({ ok: false, reason: 'not-allowed' });
    const removed = channel.push.request({ type: 'PUSH-UNSUBSCRIBE', payload: { endpoint: SUBSCRIPTION.endpoint } });
    says({ type: 'PUSH-RESULT', payload: { endpoint: SUBSCRIPTION.endpoint, ok: true } });
    expect(await removed).to.deep.equal({ ok: true });
  });

  it('rejects a request waiting when the Peer is replaced or the transport closes, and one while not registered', async () => {
    const channel = new ServerChannel(true, { relayed: () => undefined });
    channel.attach(fakePeer().peer as unknown as BoundedPeer);
    const waiting = channel.push.request({ type: 'PUSH-SUBSCRIBE', payload: { subscription: SUBSCRIPTION } });
    channel.attach(fakePeer().peer as unknown as BoundedPeer);
    expect(await waiting.then(() => 'resolved', (error: Error) => error.message)).to.match(/replaced/);
    const closing = channel.push.request({ type: 'PUSH-SUBSCRIBE', payload: { subscription: SUBSCRIPTION } });
    channel.close();
    expect(await closing.then(() => 'resolved', (error: Error) => error.message)).to.match(/closed/);
    const closed = fakePeer();
    closed.peer.open = false;
    channel.attach(closed.peer as unknown as BoundedPeer);
    expect(await channel.push.request({ type: 'PUSH-SUBSCRIBE', payload: { subscription: SUBSCRIPTION } }).then(() => 'resolved', () => 'rejected')).to.equal('rejected');
    expect(closed.sent).to.deep.equal([]);
  });
});

describe('plugin.enablePush / disablePush', () => {
  let world: World;
  beforeEach(() => {
    world = new World();
  });
  afterEach(() => world.cleanup());

  const registration = {} as ServiceWorkerRegistration;

  it('NOT_CONNECTED before connectUser, SERVER_NO_PUSH over a network without push', async () => {
    const bob = world.plugin();
    expect((await bob.enablePush({ serviceWorker: registration })) as unknown).to.deep.include({ error: { code: 'NOT_CONNECTED', reason: 'Call connectUser() and wait for it first' } });
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await world.clock.settle();
    const result = await bob.enablePush({ serviceWorker: registration });
    expect('error' in result && result.error.code).to.equal(typeof Notification === 'undefined' ? 'UNSUPPORTED' : 'SERVER_NO_PUSH');
  });

  it('disablePush with no subscription is { enabled: false }', async () => {
    const bob = await world.user('bob');
    expect(await bob.disablePush()).to.deep.equal({ enabled: false });
  });
});

describe('invitationReceived$ acceptedFromNotification', () => {
  let world: World;
  beforeEach(() => {
    world = new World();
  });
  afterEach(() => world.cleanup());

  it('flags the invitation named by peerInvitationAccept in the URL, and only it', async () => {
    const before = location.href;
    try {
      const alice = await world.user('alice');
      const bob = await world.user('bob');
      const received: InvitationReceivedEvent[] = [];
      const subscription = bob.invitationReceived$.subscribe((event) => received.push(event));
      history.replaceState(null, '', `?peerInvitationAccept=${encodeURIComponent('alice:inv-2')}`);
      const first = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: '' });
      await world.clock.settle();
      const second = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: '' });
      await world.clock.settle();
      subscription.unsubscribe();
      expect([first.invitationID, second.invitationID]).to.deep.equal(['alice:inv-1', 'alice:inv-2']);
      expect(received.map((event) => [event.invitationID, event.acceptedFromNotification])).to.deep.equal([
        ['alice:inv-1', undefined],
        ['alice:inv-2', true],
      ]);
    } finally {
      history.replaceState(null, '', before);
    }
  });
});
