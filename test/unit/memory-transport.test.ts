import { expect } from '@esm-bundle/chai';
import type { Observable } from 'rxjs';
import type { InvitationError } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/options.js';
import { DEFAULT_DELIVERY } from '../../src/options.js';
import { HELLO, PING, PROTOCOL_VERSION, type Message } from '../../src/core/protocol.js';
import type { Transport } from '../../src/transport/transport.js';
import { CHANNEL_FRAME_LIMIT, frameKind } from '../memory-transport.js';
import { World } from './world.js';

// The test double must behave like the real channel where the plugin relies on it, or the plugin tests prove nothing.

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

const accept = (data = ''): Message => ({ v: PROTOCOL_VERSION, kind: 'accept', invitationID: 'x', data, remainingMs: 1000 });

function failure(promise: Promise<unknown>): Promise<InvitationError | undefined> {
  return promise.then(
    () => undefined,
    (error: InvitationError) => error,
  );
}

function thrown(action: () => void): InvitationError | undefined {
  try {
    action();
  } catch (error) {
    return error as InvitationError;
  }
  return undefined;
}

describe('memory transport', () => {
  it('registers ids: replays its state, refuses a taken id, and frees it on close', async () => {
    const alice = world.network.transport({ id: 'alice', peer: {}, delivery: DEFAULT_DELIVERY, limits: DEFAULT_LIMITS, scheduler: world.clock.scheduler, clock: world.clock });
    const states = world.record(alice.state$);
    const opening = alice.open();
    expect(states).to.deep.equal(['disconnected', 'connecting']);
    await opening;
    expect(world.record(alice.state$)).to.deep.equal(['connected']);
    const twin = world.network.transport({ id: 'alice', peer: {}, delivery: DEFAULT_DELIVERY, limits: DEFAULT_LIMITS, scheduler: world.clock.scheduler, clock: world.clock });
    expect((await failure(twin.open()))?.code).to.equal('USER_ID_TAKEN');
    alice.close();
    alice.close();
    expect(states).to.deep.equal(['disconnected', 'connecting', 'connected', 'disconnected']);
    expect(world.network.isOnline('alice')).to.equal(false);
    const again = await world.raw('alice');
    expect(world.network.transportOf('alice')).to.equal(again.transport);
  });

  it('refuses to register an id taken offline beforehand', async () => {
    world.network.setOnline('alice', false);
    const alice = world.network.transport({ id: 'alice', peer: {}, delivery: DEFAULT_DELIVERY, limits: DEFAULT_LIMITS, scheduler: world.clock.scheduler, clock: world.clock });
    expect((await failure(alice.open()))?.code).to.equal('SERVER_UNREACHABLE');
  });

  it('connects to registered peers only, counting attempts, and announces the peer on both sides', async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    const aliceSees = world.record(alice.transport.linkOpened$);
    const bobSees = world.record(bob.transport.linkOpened$);
    expect((await failure(alice.transport.connect('nobody')))?.code).to.equal('PEER_UNREACHABLE');
    await Promise.all([alice.transport.connect('bob'), alice.transport.connect('bob')]);
    await alice.transport.connect('bob');
    await bob.transport.connect('alice');
    expect(aliceSees).to.deep.equal(['bob']);
    expect(bobSees).to.deep.equal(['alice']);
    expect(alice.transport.stats()).to.deep.equal({ connectAttempts: 2, openConnections: 1, openingConnections: 0, refusedOffers: 0, bannedPeers: 0 });
    expect(bob.transport.stats()).to.deep.equal({ connectAttempts: 0, openConnections: 1, openingConnections: 0, refusedOffers: 0, bannedPeers: 0 });
    expect(world.network.connectAttempts({ from: 'alice' })).to.equal(2);
    expect(world.network.connectAttempts({ from: 'alice', to: 'bob' })).to.equal(1);
  });

  it('refuses to send without an open connection', async () => {
    const alice = await world.raw('alice');
    await world.raw('bob');
    expect(thrown(() => alice.transport.send('bob', HELLO))?.code).to.equal('PEER_UNREACHABLE');
    expect(world.network.sent).to.deep.equal([]);
  });

  it('delivers JSON copies, later and in order, and drops pings as the real transport does', async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    await alice.transport.connect('bob');
    const message = { ...accept('1'), extra: undefined } as unknown as Message;
    alice.transport.send('bob', message);
    alice.transport.send('bob', PING);
    alice.transport.send('bob', accept('2'));
    (message as { data: string }).data = 'changed after sending';
    expect(bob.frames, 'nothing arrives synchronously').to.deep.equal([]);
    await world.clock.settle();
    expect(bob.frames).to.deep.equal([accept('1'), accept('2')]);
    expect(bob.frames[0]).to.not.have.property('extra');
    expect(world.network.sent.map((sent) => frameKind(sent.frame))).to.deep.equal(['accept', 'ping', 'accept']);
  });

  it('drops and duplicates frames on demand', async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    await alice.send('bob', accept('warm-up'));
    const drop = world.network.fault({ fault: 'drop', match: (sent) => (sent.frame as { data?: string }).data === 'a', times: 1 });
    const duplicate = world.network.fault({ fault: 'duplicate', match: (sent) => (sent.frame as { data?: string }).data === 'b' });
    for (const data of ['a', 'a', 'b', 'c']) alice.transport.send('bob', accept(data));
    await world.clock.settle();
    expect(bob.frames.map((frame) => (frame as { data: string }).data)).to.deep.equal(['warm-up', 'a', 'b', 'b', 'c']);
    expect([drop.hits, duplicate.hits]).to.deep.equal([1, 1]);
    duplicate.remove();
    alice.transport.send('bob', accept('b'));
    await world.clock.settle();
    expect(bob.frames).to.have.length(6);
  });

  it('injects any value from any id, cloned', async () => {
    const bob = await world.raw('bob');
    const heard = world.record(bob.transport.frames$);
    const frame = { weird: NaN, list: [1, 2] };
    world.network.inject('bob', 'mallory', frame);
    frame.list.push(3);
    await world.clock.settle();
    expect(heard).to.have.length(1);
    expect(heard[0]!.from).to.equal('mallory');
    expect(heard[0]!.frame).to.deep.equal({ weird: NaN, list: [1, 2] });
  });

  it('takes a peer offline: connections close, frames in flight are lost, nobody reaches it until it is back', async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    const bobStates = world.record(bob.transport.state$);
    await alice.transport.connect('bob');
    alice.transport.send('bob', accept('in flight'));
    world.network.setOnline('bob', false);
    expect(thrown(() => alice.transport.send('bob', HELLO))?.code).to.equal('PEER_UNREACHABLE');
    expect((await failure(alice.transport.connect('bob')))?.code).to.equal('PEER_UNREACHABLE');
    expect((await failure(bob.transport.connect('alice')))?.code).to.equal('NOT_CONNECTED');
    await world.clock.settle();
    expect(bob.frames).to.deep.equal([]);
    world.network.setOnline('bob', true);
    await alice.send('bob', accept('after'));
    await world.clock.settle();
    expect(bob.frames).to.deep.equal([accept('after')]);
    expect(bobStates).to.deep.equal(['connected', 'reconnecting', 'connected']);
  });

  it('disconnects a pair without taking either offline', async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    await alice.transport.connect('bob');
    world.network.disconnect('bob', 'alice');
    expect(alice.transport.stats().openConnections).to.equal(0);
    expect(thrown(() => alice.transport.send('bob', HELLO))?.code).to.equal('PEER_UNREACHABLE');
    await alice.send('bob', HELLO);
    await world.clock.settle();
    expect(bob.frames).to.deep.equal([HELLO]);
  });

  it("fails the connection on a frame PeerJS's JSON channel would refuse", async () => {
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    await alice.transport.connect('bob');
    const big = accept('"'.repeat(CHANNEL_FRAME_LIMIT / 2));
    alice.transport.send('bob', big);
    await world.clock.settle();
    expect(bob.frames).to.deep.equal([]);
    expect(world.network.sent.at(-1)?.fault).to.equal('too-big');
    expect(alice.transport.stats().openConnections).to.equal(0);
  });

  it('delays frames by the latency on the sender clock', async () => {
    await world.cleanup();
    world = new World({ latencyMs: 100 });
    const alice = await world.raw('alice');
    const bob = await world.raw('bob');
    await alice.send('bob', accept('1'));
    await world.clock.advance(99);
    expect(bob.frames).to.deep.equal([]);
    await world.clock.advance(1);
    expect(bob.frames).to.deep.equal([accept('1')]);
  });

  it('completes its streams on close and then refuses to open', async () => {
    const alice: Transport = (await world.raw('alice')).transport;
    let completed = 0;
    const streams: Observable<unknown>[] = [alice.state$, alice.frames$, alice.linkOpened$, alice.errors$];
    for (const stream of streams) stream.subscribe({ complete: () => completed++ });
    alice.close();
    expect(completed).to.equal(4);
    expect((await failure(alice.open()))?.code).to.equal('DISPOSED');
    expect((await failure(alice.connect('bob')))?.code).to.equal('NOT_CONNECTED');
  });
});

describe('memory transport: hostile peers', () => {
  it('counts reported violations, bans at the limit, and reports once per cool-down', async () => {
    const limits = { ...DEFAULT_LIMITS, violationsBeforeCooldown: 3, cooldownMs: 1000 };
    const alice = world.network.transport({ id: 'alice', peer: {}, delivery: DEFAULT_DELIVERY, limits, scheduler: world.clock.scheduler, clock: world.clock });
    await alice.open();
    const mallory = await world.raw('mallory');
    const errors = world.record(alice.errors$);
    const violations = world.record(alice.violations$);
    const frames = world.record(alice.frames$);
    await mallory.send('alice', HELLO);
    await world.clock.settle();
    expect(frames).to.have.length(1);
    for (let i = 0; i < 5; i++) alice.reportViolation({ peer: 'mallory', reason: `bad frame ${i}` });
    expect(violations.map((v) => v.reason), 'none counted once banned').to.deep.equal(['bad frame 0', 'bad frame 1', 'bad frame 2']);
    expect(errors.map((error) => error.code)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(errors[0]!.message).to.contain('mallory');
    expect(alice.isBanned('mallory')).to.equal(true);
    expect(alice.stats().bannedPeers).to.equal(1);
    expect(alice.isOpen('mallory'), 'the ban closed the connection').to.equal(false);
    expect((await failure(alice.connect('mallory')))?.code).to.equal('PEER_UNREACHABLE');
    world.network.inject('alice', 'mallory', HELLO);
    await world.clock.settle();
    expect(frames, 'frames from a banned peer are ignored').to.have.length(1);
    await world.clock.advance(1000);
    expect(alice.isBanned('mallory')).to.equal(false);
    await alice.connect('mallory');
    alice.close();
  });
});
