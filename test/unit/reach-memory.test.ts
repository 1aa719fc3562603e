/**
 * Reaching a peer with no path between the browsers, over the memory network:
 * the invite rides on the connection offer (and rings once however often the
 * offer is retried), the inviter hears `unreachable` and PEER_UNREACHABLE, and a
 * server relay carries the answer and the acks back.
 */
import { expect } from '@esm-bundle/chai';
import type { InvitationError } from '../../src/errors.js';
import type { InvitationReceivedEvent, InviteeStateChangedEvent } from '../../src/api/events.js';
import { DEFAULT_DELIVERY } from '../../src/options.js';
import { frameKind } from '../memory-transport.js';
import { World } from './world.js';

const { retryMaxDelayMs, ackTimeoutMs } = DEFAULT_DELIVERY;

let world: World;
afterEach(() => world.cleanup());

function kinds(via: 'offer' | 'relay', from: string): unknown[] {
  return world.network.sent.filter((sent) => sent.via === via && sent.from === from).map((sent) => frameKind(sent.frame));
}

describe('reach over the memory network: ring on the offer', () => {
  it('rings once from the offer when no connection can open, however often the offer is retried', async () => {
    world = new World({ offers: true });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    world.network.setPath('alice', 'bob', false);
    const rang = world.record<InvitationReceivedEvent>(bob.invitationReceived$);
    const states = world.record<InviteeStateChangedEvent>(alice.inviteeStateChanged$);
    const errors = world.record<InvitationError>(alice.errors$);

    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' });
    await world.clock.settle();
    await world.clock.advance(5 * retryMaxDelayMs);

    expect(kinds('offer', 'alice').filter((kind) => kind === 'invite').length, 'offers retried, each carrying the invite').to.be.greaterThan(2);
    expect(rang.map((event) => event.invitationID), 'rings once').to.deep.equal([invitationID]);
    expect(states.map((event) => event.state), 'unreachable once, while delivery goes on').to.deep.equal(['queued', 'unreachable']);
    const unreachable = errors.filter((error) => error.code === 'PEER_UNREACHABLE');
    expect(unreachable).to.have.length(1);
    expect(unreachable[0]!.message).to.contain('"bob"').and.contain('TURN');
  });

  it('an unreachable invitee still becomes delivered once a path appears', async () => {
    world = new World({ offers: true });
    const alice = await world.user('alice');
    await world.user('bob');
    world.network.setPath('alice', 'bob', false);
    const states = world.record<InviteeStateChangedEvent>(alice.inviteeStateChanged$);
    await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' });
    await world.clock.advance(2 * retryMaxDelayMs);
    world.network.setPath('alice', 'bob', true);
    await world.clock.advance(2 * retryMaxDelayMs);
    expect(states.map((event) => event.state)).to.deep.equal(['queued', 'unreachable', 'delivered']);
  });

  it('a cancel follows an invite that rode on an offer, though no connection ever opened', async () => {
    world = new World({ offers: true });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    world.network.setPath('alice', 'bob', false);
    const canceled = world.record(bob.invitationCanceled$);
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' });
    await world.clock.settle();
    await alice.cancelInvitation({ invitationID, data: 'bye' });
    await world.clock.advance(2 * retryMaxDelayMs);
    expect(kinds('offer', 'alice')).to.include('cancel');
    expect(canceled.length, 'the cancel rang off on the offer too').to.equal(1);
  });
});

describe('reach over the memory network: an answer on the offer', () => {
  it("the invitee's answer reaches the inviter on its own offers, with no relay and no connection", async () => {
    world = new World({ offers: true });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    world.network.setPath('alice', 'bob', false);
    const accepted = world.record(alice.invitationAccepted$);
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' });
    await world.clock.settle();
    await bob.acceptInvitation({ invitationID, data: 'yes' });
    await world.clock.advance(2 * retryMaxDelayMs);
    expect(accepted.map((event) => (event as { data: string }).data), 'counted once').to.deep.equal(['yes']);
    expect(kinds('offer', 'bob')).to.include('accept');
  });
});

describe('reach over the memory network: the relay', () => {
  it('carries the answer and the acks when no connection can open', async () => {
    world = new World({ offers: true, relay: true });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    world.network.setPath('alice', 'bob', false);
    const accepted = world.record(alice.invitationAccepted$);
    const states = world.record<InviteeStateChangedEvent>(alice.inviteeStateChanged$);
    const rang = world.record<InvitationReceivedEvent>(bob.invitationReceived$);
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' });
    await world.clock.settle();
    expect(rang).to.have.length(1);
    await bob.acceptInvitation({ invitationID, data: 'yes' });
    await world.clock.advance(ackTimeoutMs);
    expect(accepted.map((event) => (event as { data: string }).data)).to.deep.equal(['yes']);
    expect(states.map((event) => event.state)).to.include('accepted');
    expect(kinds('relay', 'bob'), 'bob relayed its ack and its accept').to.include.members(['ack', 'accept']);
    expect(kinds('relay', 'alice'), 'alice relayed the ack of the accept').to.include('ack');
  });
});
