import { expect } from '@esm-bundle/chai';
import type { Observable } from 'rxjs';
import type { InvitationError } from '../../src/errors.js';
import type { SignalingPlugin } from '../../src/api/plugin.js';
import { DEFAULT_DELIVERY } from '../../src/options.js';
import { MAX_DATA_BYTES, MAX_MESSAGE_BYTES, NOT_JSON, PROTOCOL_VERSION, type Message } from '../../src/core/protocol.js';
import { openMemoryStore } from '../../src/storage/store.js';
import type { SendInvitationParams } from '../../src/api/calls.js';
import type { InviteeStateChangedEvent } from '../../src/api/events.js';
import type { NotificationRequest } from '../../src/api/options.js';
import { frameKind, type SentFrame } from '../memory-transport.js';
import { World, type JournalEntry } from './world.js';

const { ackTimeoutMs, retryInitialDelayMs, retryMaxDelayMs, retentionMs } = DEFAULT_DELIVERY;

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

function params(invitees: string[], patch: Partial<SendInvitationParams> = {}): SendInvitationParams {
  return { inviterName: 'Alice', invitees, timeout: 30, type: 1, data: 'hi', ...patch };
}

/** Sends, expects success, and lets the network settle. */
async function invite(from: SignalingPlugin, invitees: string[], patch: Partial<SendInvitationParams> = {}): Promise<string> {
  const result = await from.sendInvitation(params(invitees, patch));
  expect(result.error, result.error?.message).to.equal(undefined);
  await world.clock.settle();
  return result.invitationID;
}

function states(events: InviteeStateChangedEvent[], invitee?: string): string[] {
  return events.filter((event) => invitee === undefined || event.invitee === invitee).map((event) => event.state);
}

function framesOf(kind: string, filter: Partial<Pick<SentFrame, 'from' | 'to'>> = {}): SentFrame[] {
  return world.network.sent.filter(
    (sent) => frameKind(sent.frame) === kind && (filter.from === undefined || sent.from === filter.from) && (filter.to === undefined || sent.to === filter.to),
  );
}

function errorCodes(journal: JournalEntry[]): string[] {
  return journal.filter((entry) => entry.event === 'errors$').map((entry) => (entry.value as InvitationError).code);
}

describe('plugin over the memory network: answers', () => {
  it('delivers an invite and its acceptance, with the documented payloads', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const received = world.record(bob.invitationReceived$);
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const accepted = world.record(alice.invitationAccepted$);

    const result = await alice.sendInvitation(params(['bob'], { data: 'ring ring', type: 7 }));
    expect(result).to.deep.equal({ invitationID: 'alice:inv-1', errorInvitees: {} });
    await world.clock.settle();
    expect(received).to.deep.equal([
      { invitationID: 'alice:inv-1', inviter: { id: 'alice', name: 'Alice' }, type: 7, data: 'ring ring', timeout: 30, createTime: 0, deadline: 30_000 },
    ]);
    expect(inviteeStates).to.deep.equal([
      { invitationID: 'alice:inv-1', invitee: 'bob', state: 'queued' },
      { invitationID: 'alice:inv-1', invitee: 'bob', state: 'delivered' },
    ]);

    await world.clock.advance(1000);
    expect(await bob.acceptInvitation({ invitationID: 'alice:inv-1', data: 'on my way' })).to.deep.equal({ invitationID: 'alice:inv-1' });
    await world.clock.settle();
    expect(accepted).to.deep.equal([{ invitationID: 'alice:inv-1', invitee: 'bob', data: 'on my way' }]);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'accepted']);
    expect(alice.stats().pendingDeliveries).to.equal(0);
    expect(bob.stats().pendingDeliveries).to.equal(0);
  });

  it('delivers a refusal with its data', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const refused = world.record(alice.invitationRefused$);
    const accepted = world.record(alice.invitationAccepted$);
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob']);
    expect(await bob.refuseInvitation({ invitationID: id, data: 'busy' })).to.deep.equal({ invitationID: id });
    await world.clock.settle();
    expect(refused).to.deep.equal([{ invitationID: id, invitee: 'bob', data: 'busy' }]);
    expect(accepted).to.deep.equal([]);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'refused']);
  });

  it('reports delivered before the answer when the answer overtakes the ack of the invite', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const lostAck = world.network.fault({ fault: 'drop', match: (sent) => frameKind(sent.frame) === 'ack' && sent.from === 'bob', times: 1 });
    const id = await invite(alice, ['bob']);
    expect(lostAck.hits).to.equal(1);
    expect(states(inviteeStates)).to.deep.equal(['queued']);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'accepted']);
    // The lost ack's timer later resends nothing: the answer settled the invite.
    await world.clock.advance(ackTimeoutMs + retryMaxDelayMs);
    expect(framesOf('invite')).to.have.length(1);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'accepted']);
  });

  it('answers a second answer with ALREADY_RESPONDED and sends nothing more', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const id = await invite(alice, ['bob']);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    const sentBefore = world.network.sent.length;
    expect((await bob.acceptInvitation({ invitationID: id })).error?.code).to.equal('ALREADY_RESPONDED');
    expect((await bob.refuseInvitation({ invitationID: id })).error?.code).to.equal('ALREADY_RESPONDED');
    await world.clock.settle();
    expect(world.network.sent.length).to.equal(sentBefore);
  });

  it('answers NOT_FOUND for an unknown invitation, and INVALID_ARGUMENT for bad parameters', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const id = await invite(alice, ['bob']);
    expect((await bob.acceptInvitation({ invitationID: 'nope' })).error?.code).to.equal('NOT_FOUND');
    // The inviter cannot answer its own invitation, nor the invitee cancel it.
    expect((await alice.acceptInvitation({ invitationID: id })).error?.code).to.equal('NOT_FOUND');
    expect((await bob.cancelInvitation({ invitationID: id })).error?.code).to.equal('NOT_FOUND');
    expect((await bob.acceptInvitation({ invitationID: '' })).error?.code).to.equal('INVALID_ARGUMENT');
    expect((await bob.acceptInvitation({ invitationID: id, data: 5 as unknown as string })).error?.code).to.equal('INVALID_ARGUMENT');
    expect((await bob.acceptInvitation({ invitationID: id, data: 'x'.repeat(MAX_DATA_BYTES + 1) })).error?.code).to.equal('DATA_TOO_LARGE');
    expect((await alice.cancelInvitation({ invitationID: id, invitees: [5 as unknown as string] })).error?.code).to.equal('INVALID_ARGUMENT');
    // None of that changed the invitation.
    expect((await bob.acceptInvitation({ invitationID: id })).error).to.equal(undefined);
  });

  it('reports mixed answers of several invitees, and one response timeout listing only the silent ones', async () => {
    const alice = await world.user('alice');
    // erin is invited and never answers.
    const [bob, carol, dave] = await Promise.all(['bob', 'carol', 'dave', 'erin'].map((id) => world.user(id)));
    const journal = world.journal(alice);
    const daveTimeouts = world.record(dave!.invitationTimeout$);
    const bobTimeouts = world.record(bob!.invitationTimeout$);
    const id = await invite(alice, ['bob', 'carol', 'dave', 'erin'], { timeout: 10 });
    await bob!.acceptInvitation({ invitationID: id, data: 'b' });
    await carol!.refuseInvitation({ invitationID: id, data: 'c' });
    await world.clock.advance(9_999);
    expect(journal.filter((entry) => entry.event === 'invitationResponseTimeout$')).to.deep.equal([]);

    await world.clock.advance(1);
    const names = journal.map((entry) => entry.event);
    expect(names.filter((name) => name === 'invitationAccepted$')).to.have.length(1);
    expect(journal.find((entry) => entry.event === 'invitationAccepted$')!.value).to.deep.equal({ invitationID: id, invitee: 'bob', data: 'b' });
    expect(journal.find((entry) => entry.event === 'invitationRefused$')!.value).to.deep.equal({ invitationID: id, invitee: 'carol', data: 'c' });
    const timeouts = journal.filter((entry) => entry.event === 'invitationResponseTimeout$').map((entry) => entry.value);
    expect(timeouts).to.have.length(1);
    expect(timeouts[0]).to.deep.include({ invitationID: id });
    expect((timeouts[0] as { invitees: string[] }).invitees).to.have.members(['dave', 'erin']);
    const final = new Map<string, string>();
    for (const entry of journal) {
      if (entry.event === 'inviteeStateChanged$') final.set((entry.value as InviteeStateChangedEvent).invitee, (entry.value as InviteeStateChangedEvent).state);
    }
    expect(Object.fromEntries(final)).to.deep.equal({ bob: 'accepted', carol: 'refused', dave: 'timeout', erin: 'timeout' });
    expect(daveTimeouts).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    expect(bobTimeouts).to.deep.equal([]);

    // Nothing more, however long we wait.
    await world.clock.advance(retentionMs * 3);
    expect(journal.filter((entry) => entry.event === 'invitationResponseTimeout$')).to.have.length(1);
    expect(errorCodes(journal)).to.deep.equal([]);
  });
});

describe('plugin over the memory network: cancel', () => {
  it('cancels a delivered invitation; the invitee hears it with the data and can no longer answer', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const canceled = world.record(bob.invitationCanceled$);
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob']);
    expect(await alice.cancelInvitation({ invitationID: id, data: 'never mind' })).to.deep.equal({ invitationID: id, errorInvitees: [] });
    await world.clock.settle();
    expect(canceled).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' }, data: 'never mind' }]);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'canceled']);
    expect((await bob.acceptInvitation({ invitationID: id })).error?.code).to.equal('CANCELED');
    expect((await bob.refuseInvitation({ invitationID: id })).error?.code).to.equal('CANCELED');
    expect(alice.stats().pendingDeliveries).to.equal(0);
  });

  it('cancels a subset and lists the invitees it could not cancel', async () => {
    const alice = await world.user('alice');
    const [bob, carol, dave] = await Promise.all(['bob', 'carol', 'dave'].map((id) => world.user(id)));
    const accepted = world.record(alice.invitationAccepted$);
    const carolCanceled = world.record(carol!.invitationCanceled$);
    const daveCanceled = world.record(dave!.invitationCanceled$);
    const bobCanceled = world.record(bob!.invitationCanceled$);
    const id = await invite(alice, ['bob', 'carol', 'dave']);
    await bob!.acceptInvitation({ invitationID: id });
    await world.clock.settle();

    const result = await alice.cancelInvitation({ invitationID: id, invitees: ['bob', 'carol', 'zed', 'carol'], data: 'sorry' });
    expect(result.error).to.equal(undefined);
    expect(result.errorInvitees).to.have.members(['bob', 'zed']);
    expect(result.errorInvitees).to.have.length(2);
    await world.clock.settle();
    expect(carolCanceled).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' }, data: 'sorry' }]);
    expect(bobCanceled).to.deep.equal([]);
    expect(daveCanceled).to.deep.equal([]);

    // Dave was not canceled: his answer still counts.
    await dave!.acceptInvitation({ invitationID: id, data: 'd' });
    await world.clock.settle();
    expect(accepted.map((event) => event.invitee)).to.deep.equal(['bob', 'dave']);
  });

  it('cancels every unanswered invitee when no list is given', async () => {
    const alice = await world.user('alice');
    const [bob, carol, dave] = await Promise.all(['bob', 'carol', 'dave'].map((id) => world.user(id)));
    const canceled = [bob!, carol!, dave!].map((plugin) => world.record(plugin.invitationCanceled$));
    const id = await invite(alice, ['bob', 'carol', 'dave']);
    await carol!.refuseInvitation({ invitationID: id });
    await world.clock.settle();
    expect(await alice.cancelInvitation({ invitationID: id })).to.deep.equal({ invitationID: id, errorInvitees: [] });
    await world.clock.settle();
    expect(canceled.map((events) => events.length)).to.deep.equal([1, 0, 1]);
  });

  it("answers a cancel of settled invitees with the invitees' refusal codes", async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    await world.user('carol');
    const id = await invite(alice, ['bob', 'carol']);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    await alice.cancelInvitation({ invitationID: id, invitees: ['carol'] });
    const answered = await alice.cancelInvitation({ invitationID: id, invitees: ['bob'] });
    expect(answered.error?.code).to.equal('ALREADY_RESPONDED');
    expect(answered.errorInvitees).to.deep.equal(['bob']);
    const again = await alice.cancelInvitation({ invitationID: id, invitees: ['carol'] });
    expect(again.error?.code).to.equal('CANCELED');
    expect(again.errorInvitees).to.deep.equal(['carol']);
    expect((await alice.cancelInvitation({ invitationID: 'unknown' })).error?.code).to.equal('NOT_FOUND');
  });

  it('answers a second cancel of an invitation whose invitees were all canceled with CANCELED', async () => {
    const alice = await world.user('alice');
    await world.user('bob');
    const id = await invite(alice, ['bob']);
    expect((await alice.cancelInvitation({ invitationID: id })).error).to.equal(undefined);
    const again = await alice.cancelInvitation({ invitationID: id });
    expect(again.error?.code).to.equal('CANCELED');
  });

  it('answers a cancel after the deadline with EXPIRED', async () => {
    const alice = await world.user('alice');
    await world.user('bob');
    const id = await invite(alice, ['bob'], { timeout: 5 });
    await world.clock.advance(5000);
    const result = await alice.cancelInvitation({ invitationID: id });
    expect(result.error?.code).to.equal('EXPIRED');
  });

  it('sends no cancel for an invite that never left (offline invitee), and stops trying to reach it', async () => {
    const alice = await world.user('alice');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob']);
    await world.clock.advance(2000);
    expect(await alice.cancelInvitation({ invitationID: id })).to.deep.equal({ invitationID: id, errorInvitees: [] });
    expect(states(inviteeStates)).to.deep.equal(['queued', 'canceled']);
    expect(alice.stats().pendingDeliveries).to.equal(0);
    const attempts = world.network.connectAttempts({ to: 'bob' });
    await world.clock.advance(10_000);
    expect(world.network.connectAttempts({ to: 'bob' }), 'connect attempts after the cancel').to.equal(attempts);

    const bob = await world.user('bob');
    const journal = world.journal(bob);
    await world.clock.advance(30_000);
    expect(journal).to.deep.equal([]);
    expect(world.network.sent.filter((sent) => sent.to === 'bob')).to.deep.equal([]);
  });

  it('sends the cancel when the invite was written but its ack lost', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const bobJournal = world.journal(bob);
    const lostAck = world.network.fault({ fault: 'drop', match: (sent) => frameKind(sent.frame) === 'ack' && sent.from === 'bob', times: 1 });
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob']);
    expect(lostAck.hits).to.equal(1);
    expect(states(inviteeStates)).to.deep.equal(['queued']);
    await alice.cancelInvitation({ invitationID: id, data: 'bye' });
    await world.clock.settle();
    expect(framesOf('cancel', { from: 'alice', to: 'bob' })).to.have.length(1);
    expect(bobJournal.map((entry) => entry.event)).to.deep.equal(['invitationReceived$', 'invitationCanceled$']);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'canceled']);
  });
});

describe('plugin over the memory network: time', () => {
  it('times out on both sides at the deadline, and refuses late answers and cancels with EXPIRED', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const responseTimeouts = world.record(alice.invitationResponseTimeout$);
    const timeouts = world.record(bob.invitationTimeout$);
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob'], { timeout: 2.5 });
    await world.clock.advance(2499);
    expect(responseTimeouts).to.deep.equal([]);
    expect(timeouts).to.deep.equal([]);
    await world.clock.advance(1);
    expect(responseTimeouts).to.deep.equal([{ invitationID: id, invitees: ['bob'] }]);
    expect(timeouts).to.deep.equal([{ invitationID: id, inviter: { id: 'alice', name: 'Alice' } }]);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'timeout']);
    expect((await bob.acceptInvitation({ invitationID: id })).error?.code).to.equal('EXPIRED');
    expect((await alice.cancelInvitation({ invitationID: id })).error?.code).to.equal('EXPIRED');
    await world.clock.advance(retentionMs * 2);
    expect(responseTimeouts).to.have.length(1);
    expect(timeouts).to.have.length(1);
    expect(alice.stats().invitations).to.equal(0);
    expect(bob.stats().invitations).to.equal(0);
  });

  it("sets the invitee's deadline to its own receive time plus remainingMs, whatever its clock says", async () => {
    await world.cleanup();
    world = new World({ latencyMs: 250 });
    const skew = 3_600_000;
    const alice = await world.user('alice');
    const bob = await world.user('bob', { scheduler: world.clock.skewed(skew) });
    const received = world.record(bob.invitationReceived$);
    const timeouts = world.record(bob.invitationTimeout$);
    const responseTimeouts = world.record(alice.invitationResponseTimeout$);
    await alice.sendInvitation(params(['bob'], { timeout: 10 }));
    await world.clock.advance(250);
    expect((framesOf('invite')[0]!.frame as { remainingMs: number }).remainingMs).to.equal(10_000);
    expect(received).to.have.length(1);
    expect(received[0]).to.deep.include({ createTime: skew + 250, deadline: skew + 10_250, timeout: 10 });

    await world.clock.advanceTo(10_000);
    expect(responseTimeouts).to.have.length(1);
    expect(timeouts).to.deep.equal([]);
    await world.clock.advanceTo(10_249);
    expect(timeouts).to.deep.equal([]);
    await world.clock.advanceTo(10_250);
    expect(timeouts).to.have.length(1);
  });

  it('queues an invite for an offline invitee and delivers it, with the time left, once it comes online', async () => {
    const alice = await world.user('alice');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob'], { timeout: 30 });
    expect(states(inviteeStates)).to.deep.equal(['queued']);
    expect(alice.stats().pendingDeliveries).to.equal(1);
    await world.clock.advanceTo(4000);
    expect(states(inviteeStates)).to.deep.equal(['queued']);

    const bob = await world.plugin();
    const received = world.record(bob.invitationReceived$);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await world.clock.advance(retryMaxDelayMs);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered']);
    expect(alice.stats().pendingDeliveries).to.equal(0);
    const sent = framesOf('invite', { to: 'bob' });
    expect(sent).to.have.length(1);
    const deliveredAt = sent[0]!.at;
    expect(deliveredAt).to.be.within(4000, 4000 + retryMaxDelayMs);
    expect((sent[0]!.frame as { remainingMs: number }).remainingMs).to.equal(30_000 - deliveredAt);
    expect(received).to.deep.equal([
      { invitationID: id, inviter: { id: 'alice', name: 'Alice' }, type: 1, data: 'hi', timeout: (30_000 - deliveredAt) / 1000, createTime: deliveredAt, deadline: 30_000 },
    ]);
  });

  it('delivers every invitation queued for an offline invitee, each once', async () => {
    const alice = await world.user('alice');
    const carol = await world.user('carol');
    const ids = [await invite(alice, ['bob']), await invite(carol, ['bob']), await invite(alice, ['bob', 'carol'])];
    await world.clock.advance(1000);
    const bob = world.plugin();
    const received = world.record(bob.invitationReceived$);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await world.clock.advance(retryMaxDelayMs);
    expect(received.map((event) => event.invitationID)).to.have.members(ids);
    expect(received).to.have.length(3);
    expect(received.find((event) => event.invitationID === ids[1])!.inviter.id).to.equal('carol');
    expect(alice.stats().pendingDeliveries + carol.stats().pendingDeliveries).to.equal(0);
  });

  it('keeps connect attempts to an unreachable invitee bounded, with backoff, until the deadline', async () => {
    const alice = await world.user('alice');
    await invite(alice, ['ghost'], { timeout: 60 });
    await world.clock.advance(60_000);
    const times = world.network.attempts.filter((attempt) => attempt.to === 'ghost').map((attempt) => attempt.at);
    expect(alice.stats().connectAttempts).to.equal(times.length);
    const gaps = times.slice(1).map((time, index) => time - times[index]!);
    expect(gaps[0]).to.equal(retryInitialDelayMs);
    for (let index = 1; index < gaps.length; index++) expect(gaps[index]!, `gap ${index}`).to.be.at.least(gaps[index - 1]!);
    expect(Math.max(...gaps)).to.equal(retryMaxDelayMs);
    // About one attempt per retryMaxDelayMs once the backoff is capped, never a storm.
    expect(times.length).to.be.within(60_000 / retryMaxDelayMs, 60_000 / retryMaxDelayMs + 5);

    await world.clock.advance(120_000);
    expect(world.network.connectAttempts({ to: 'ghost' }), 'attempts after the deadline').to.equal(times.length);
    expect(alice.stats().pendingDeliveries).to.equal(0);
  });

  it('sends the invite again when its frame is lost, and rings once', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const received = world.record(bob.invitationReceived$);
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const lost = world.network.fault({ fault: 'drop', match: (sent) => frameKind(sent.frame) === 'invite', times: 1 });
    await invite(alice, ['bob'], { timeout: 30 });
    expect(lost.hits).to.equal(1);
    expect(received).to.deep.equal([]);
    await world.clock.advance(ackTimeoutMs + retryMaxDelayMs);
    expect(received).to.have.length(1);
    expect(received[0]!.timeout).to.be.below(30);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered']);
  });

  it('resends a lost answer until acknowledged', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob']);
    world.network.fault({ fault: 'drop', match: (sent) => frameKind(sent.frame) === 'accept', times: 2 });
    await bob.acceptInvitation({ invitationID: id, data: 'yes' });
    await world.clock.settle();
    expect(accepted).to.deep.equal([]);
    expect(bob.stats().pendingDeliveries).to.equal(1);
    await world.clock.advance(2 * (ackTimeoutMs + retryMaxDelayMs));
    expect(accepted).to.deep.equal([{ invitationID: id, invitee: 'bob', data: 'yes' }]);
    expect(framesOf('accept')).to.have.length(3);
    expect(bob.stats().pendingDeliveries).to.equal(0);
  });

  it('sends an answer again when its connection drops with the frame in flight', async () => {
    await world.cleanup();
    world = new World({ latencyMs: 50 });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const accepted = world.record(alice.invitationAccepted$);
    const { invitationID } = await alice.sendInvitation(params(['bob']));
    await world.clock.advance(100);
    await bob.acceptInvitation({ invitationID, data: 'yes' });
    world.network.disconnect('alice', 'bob');
    await world.clock.advance(100);
    expect(accepted).to.deep.equal([]);
    await world.clock.advance(ackTimeoutMs + retryMaxDelayMs);
    expect(accepted).to.deep.equal([{ invitationID, invitee: 'bob', data: 'yes' }]);
    expect(framesOf('accept')).to.have.length(2);
  });

  it('gets an answer to an inviter that was offline, as soon as it is back', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const connection = world.record(alice.connectionState$);
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob']);
    world.network.setOnline('alice', false);
    await world.clock.settle();
    expect(connection.at(-1)).to.equal('reconnecting');
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.advance(10_000);
    expect(accepted).to.deep.equal([]);
    world.network.setOnline('alice', true);
    // The inviter greets its invitees on reconnection: no waiting for the invitee's backoff.
    await world.clock.settle();
    expect(connection.at(-1)).to.equal('connected');
    expect(accepted).to.deep.equal([{ invitationID: id, invitee: 'bob', data: '' }]);
  });
});

describe('plugin over the memory network: hostile and repeated frames', () => {
  it('turns duplicated frames into one event each', async () => {
    world.network.fault({ fault: 'duplicate' });
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const carol = await world.user('carol');
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const carolJournal = world.journal(carol);
    const id = await invite(alice, ['bob', 'carol']);
    await bob.acceptInvitation({ invitationID: id, data: 'yes' });
    await alice.cancelInvitation({ invitationID: id, invitees: ['carol'] });
    await world.clock.settle();
    expect(framesOf('invite').every((sent) => sent.fault === 'duplicate')).to.equal(true);
    expect(bobJournal.map((entry) => entry.event)).to.deep.equal(['invitationReceived$']);
    expect(carolJournal.map((entry) => entry.event)).to.deep.equal(['invitationReceived$', 'invitationCanceled$']);
    expect(aliceJournal.filter((entry) => entry.event === 'invitationAccepted$')).to.have.length(1);
    const aliceStates = aliceJournal.filter((entry) => entry.event === 'inviteeStateChanged$').map((entry) => entry.value as InviteeStateChangedEvent);
    expect(states(aliceStates, 'bob')).to.deep.equal(['queued', 'delivered', 'accepted']);
    expect(states(aliceStates, 'carol')).to.deep.equal(['queued', 'delivered', 'canceled']);
    expect([...errorCodes(aliceJournal), ...errorCodes(bobJournal), ...errorCodes(carolJournal)]).to.deep.equal([]);
  });

  it('drops garbage frames with PROTOCOL_VIOLATION, reported once per peer, and changes nothing', async () => {
    // Patient limits: this test is about each frame being dropped, not about cutting the peer off.
    const limits = { violationsBeforeCooldown: 100 };
    const alice = await world.user('alice', { limits });
    const bob = await world.user('bob', { limits });
    const id = await invite(alice, ['bob']);
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const statsBefore = [alice.stats(), bob.stats()];
    const sentBefore = world.network.sent.length;
    const garbage: unknown[] = [
      NOT_JSON,
      'not json at all',
      null,
      42,
      [{ v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: '', remainingMs: 1 }],
      { v: PROTOCOL_VERSION + 1, kind: 'accept', invitationID: id, data: '', remainingMs: 1 },
      { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: '', remainingMs: NaN },
      { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, remainingMs: 1 },
      { v: PROTOCOL_VERSION, kind: 'refuse', invitationID: id, data: 'x'.repeat(MAX_DATA_BYTES + 1), remainingMs: 1 },
      { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: id, data: '', remainingMs: 600_001 },
      { v: PROTOCOL_VERSION, kind: 'ack', of: 'invite' },
      { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'other', inviterName: 'Eve', type: 1.5, data: '', remainingMs: 1000 },
      { v: PROTOCOL_VERSION, kind: 'explode' },
    ];
    for (const frame of garbage) world.network.inject('alice', 'bob', frame);
    for (const frame of garbage) world.network.inject('bob', 'alice', frame);
    for (const frame of garbage) world.network.inject('bob', 'mallory', frame);
    await world.clock.settle();
    // One report per offending peer and cool-down: bob's to alice; alice's and mallory's to bob.
    expect(aliceJournal.map((entry) => entry.event)).to.deep.equal(['errors$']);
    expect(bobJournal.map((entry) => entry.event)).to.deep.equal(['errors$', 'errors$']);
    expect(bobJournal.map((entry) => String(entry.value))).to.satisfy((messages: string[]) => messages[0]!.includes('"alice"') && messages[1]!.includes('"mallory"'));
    expect(new Set([...errorCodes(aliceJournal), ...errorCodes(bobJournal)])).to.deep.equal(new Set(['PROTOCOL_VIOLATION']));
    expect([alice.stats(), bob.stats()]).to.deep.equal(statsBefore);
    expect(world.network.sent.length, 'frames sent in reply to garbage').to.equal(sentBefore);

    // The invitation works as before.
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    expect(aliceJournal.filter((entry) => entry.event === 'invitationAccepted$')).to.have.length(1);
  });

  it('rejects answers from a peer that was not invited, and an answer sent to the invitee', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    await world.user('carol');
    const id = await invite(alice, ['bob']);
    const aliceJournal = world.journal(alice);
    const bobJournal = world.journal(bob);
    const mallory = await world.raw('mallory');
    await mallory.send('alice', { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: 'me!', remainingMs: 1000 });
    world.network.inject('alice', 'carol', { v: PROTOCOL_VERSION, kind: 'refuse', invitationID: id, data: '', remainingMs: 1000 });
    // The inviter answering its own invitation, to its invitee.
    world.network.inject('bob', 'alice', { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: '', remainingMs: 1000 });
    await world.clock.settle();
    expect(aliceJournal.map((entry) => entry.event)).to.deep.equal(['errors$', 'errors$']);
    expect(errorCodes(aliceJournal)).to.deep.equal(['PROTOCOL_VIOLATION', 'PROTOCOL_VIOLATION']);
    expect(errorCodes(bobJournal)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(mallory.frames, 'no ack for an unauthorized answer').to.deep.equal([]);

    await bob.acceptInvitation({ invitationID: id, data: 'the real one' });
    await world.clock.settle();
    expect(aliceJournal.filter((entry) => entry.event === 'invitationAccepted$').map((entry) => entry.value)).to.deep.equal([
      { invitationID: id, invitee: 'bob', data: 'the real one' },
    ]);
  });

  it('rejects a cancel from a peer that is not the inviter', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const id = await invite(alice, ['bob']);
    const bobJournal = world.journal(bob);
    const mallory = await world.raw('mallory');
    await mallory.send('bob', { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: id, data: 'gotcha', remainingMs: 1000 });
    await world.clock.settle();
    expect(bobJournal.map((entry) => entry.event)).to.deep.equal(['errors$']);
    expect(errorCodes(bobJournal)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(mallory.frames).to.deep.equal([]);
    expect((await bob.acceptInvitation({ invitationID: id })).error).to.equal(undefined);
  });

  it('ignores an ack from a peer other than the invitee', async () => {
    const alice = await world.user('alice');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob']);
    const mallory = await world.raw('mallory');
    await mallory.send('alice', { v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: id });
    await world.clock.settle();
    expect(states(inviteeStates)).to.deep.equal(['queued']);
    expect(alice.stats().pendingDeliveries).to.equal(1);
  });

  it('rejects an invite that reuses an invitation id known from another peer', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const id = await invite(alice, ['bob']);
    const journal = world.journal(bob);
    const carol = await world.raw('carol');
    await carol.send('bob', { v: PROTOCOL_VERSION, kind: 'invite', invitationID: id, inviterName: 'Carol', type: 0, data: '', remainingMs: 5000 });
    await world.clock.settle();
    expect(errorCodes(journal)).to.deep.equal(['PROTOCOL_VIOLATION']);
    expect(journal).to.have.length(1);
    expect(carol.frames).to.deep.equal([]);
  });

  it('drops an invite that comes after its own cancel, acknowledging both', async () => {
    const bob = await world.user('bob');
    const journal = world.journal(bob);
    const carol = await world.raw('carol');
    await carol.send('bob', { v: PROTOCOL_VERSION, kind: 'cancel', invitationID: 'carol:c-1', data: '', remainingMs: 5000 });
    await carol.send('bob', { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'carol:c-1', inviterName: 'Carol', type: 0, data: '', remainingMs: 5000 });
    await world.clock.settle();
    expect(journal).to.deep.equal([]);
    expect(carol.frames).to.have.deep.members([
      { v: PROTOCOL_VERSION, kind: 'ack', of: 'cancel', invitationID: 'carol:c-1' },
      { v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: 'carol:c-1' },
    ]);
    expect((await bob.acceptInvitation({ invitationID: 'carol:c-1' })).error?.code).to.equal('CANCELED');
  });

  it('acknowledges without ringing an invite that expired on its way', async () => {
    const bob = await world.user('bob');
    const journal = world.journal(bob);
    const carol = await world.raw('carol');
    await carol.send('bob', { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'carol:c-2', inviterName: 'Carol', type: 0, data: '', remainingMs: 0 });
    await world.clock.settle();
    expect(journal).to.deep.equal([]);
    expect(carol.frames).to.deep.equal([{ v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: 'carol:c-2' }]);
  });

  it('acknowledges a late answer after the deadline as rejected, without reporting it', async () => {
    const alice = await world.user('alice');
    const journal = world.journal(alice);
    const bob = await world.raw('bob');
    const id = await invite(alice, ['bob'], { timeout: 3 });
    expect(bob.frames).to.have.length(1);
    await bob.send('alice', { v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: id });
    await world.clock.advance(3000);
    await bob.send('alice', { v: PROTOCOL_VERSION, kind: 'accept', invitationID: id, data: '', remainingMs: 1 });
    await world.clock.settle();
    expect(journal.map((entry) => entry.event)).to.deep.equal(['inviteeStateChanged$', 'inviteeStateChanged$', 'inviteeStateChanged$', 'invitationResponseTimeout$']);
    expect(bob.frames.at(-1)).to.deep.equal({ v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: id, rejected: 'expired' });
  });
});

describe('plugin over the memory network: size limits', () => {
  it('refuses an invitation whose encoded frame would exceed the channel limit', async () => {
    const alice = await world.user('alice');
    await world.user('bob');
    // 8192 bytes of data, but each quote is escaped to two bytes in JSON.
    const result = await alice.sendInvitation(params(['bob'], { data: '"'.repeat(MAX_DATA_BYTES) }));
    expect(result.error?.code).to.equal('DATA_TOO_LARGE');
    expect(result.invitationID).to.equal('');
    expect(alice.stats().invitations).to.equal(0);
  });

  it('refuses an answer whose encoded frame would exceed the channel limit, instead of reporting success and never delivering it', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob']);
    const data = '"'.repeat(MAX_DATA_BYTES);
    const answer = await bob.acceptInvitation({ invitationID: id, data });
    await world.clock.advance(10_000);
    const delivered = accepted.length === 1;
    expect(delivered || answer.error?.code === 'DATA_TOO_LARGE', `answer resolved ${JSON.stringify(answer)} and ${accepted.length} acceptance arrived`).to.equal(true);
  });

  it('refuses a cancel whose encoded frame would exceed the channel limit, instead of reporting success and never delivering it', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const canceled = world.record(bob.invitationCanceled$);
    const id = await invite(alice, ['bob']);
    const result = await alice.cancelInvitation({ invitationID: id, data: '\u0001'.repeat(Math.ceil(MAX_MESSAGE_BYTES / 6) + 100) });
    await world.clock.advance(10_000);
    const delivered = canceled.length === 1;
    expect(delivered || result.error?.code === 'DATA_TOO_LARGE', `cancel resolved ${JSON.stringify(result)} and ${canceled.length} cancel arrived`).to.equal(true);
  });
});

describe('plugin over the memory network: notifications', () => {
  /** A `notify` that records each request and each close. */
  function notifier(): { requests: NotificationRequest[]; closed: string[]; notify: (request: NotificationRequest) => () => void } {
    const requests: NotificationRequest[] = [];
    const closed: string[] = [];
    const notify = (request: NotificationRequest) => {
      requests.push(request);
      return () => {
        closed.push(request.invitationID);
      };
    };
    return { requests, closed, notify };
  }

  const config = { notifyWhenAppIsInTheBackgroundOrQuit: true, resourceID: 'ring', title: 'Incoming call', message: 'Alice is calling' };

  it('shows the notification when both switches are on, and closes it when the invitee answers', async () => {
    const alice = await world.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const spy = notifier();
    const bob = await world.user('bob', { notify: spy.notify });
    const id = await invite(alice, ['bob'], { notificationConfig: config, type: 2, data: 'd' });
    expect((framesOf('invite')[0]!.frame as Message & { notification?: unknown }).notification).to.deep.equal({ resourceID: 'ring', title: 'Incoming call', message: 'Alice is calling' });
    expect(spy.requests).to.deep.equal([
      // The title names the verified id; the inviter's own title and message become the message.
      { invitationID: id, inviter: { id: 'alice', name: 'Alice' }, type: 2, data: 'd', resourceID: 'ring', title: 'alice (Alice) is calling', message: 'Incoming call\nAlice is calling' },
    ]);
    expect(spy.closed).to.deep.equal([]);
    await bob.acceptInvitation({ invitationID: id });
    expect(spy.closed).to.deep.equal([id]);
    await bob.dispose();
    expect(spy.closed).to.deep.equal([id]);
  });

  it('closes the notification when the invitation is canceled, times out, or the plugin is disposed', async () => {
    const alice = await world.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    const spy = notifier();
    const bob = await world.user('bob', { notify: spy.notify });
    const canceled = await invite(alice, ['bob'], { notificationConfig: config });
    const timedOut = await invite(alice, ['bob'], { notificationConfig: config, timeout: 5 });
    const open = await invite(alice, ['bob'], { notificationConfig: config, timeout: 60 });
    expect(spy.requests.map((request) => request.invitationID)).to.deep.equal([canceled, timedOut, open]);
    await alice.cancelInvitation({ invitationID: canceled });
    await world.clock.settle();
    expect(spy.closed).to.deep.equal([canceled]);
    await world.clock.advance(5000);
    expect(spy.closed).to.deep.equal([canceled, timedOut]);
    await bob.dispose();
    expect(spy.closed).to.deep.equal([canceled, timedOut, open]);
  });

  it('sends no notification when the global switch or the invitation flag is off', async () => {
    const spy = notifier();
    const bob = await world.user('bob', { notify: spy.notify });
    const received = world.record(bob.invitationReceived$);
    const globalOff = await world.user('alice');
    await invite(globalOff, ['bob'], { notificationConfig: config });
    const globalOn = await world.user('carol', { notifyWhenAppIsInTheBackgroundOrQuit: true });
    await invite(globalOn, ['bob'], { notificationConfig: { ...config, notifyWhenAppIsInTheBackgroundOrQuit: false } });
    await invite(globalOn, ['bob']);
    expect(received).to.have.length(3);
    expect(spy.requests).to.deep.equal([]);
    expect(framesOf('invite').map((sent) => 'notification' in (sent.frame as object))).to.deep.equal([false, false, false]);
  });
});

describe('plugin over the memory network: lifecycle', () => {
  it('answers NOT_CONNECTED before and during connectUser, and after disconnectUser', async () => {
    // A store that opens when the test says so holds connectUser half way.
    let openStore!: () => void;
    const opened = new Promise<void>((resolve) => (openStore = resolve));
    const plugin = world.plugin({
      storage: async (name, owner) => {
        await opened;
        return openMemoryStore(name, owner);
      },
    });
    const check = async () => {
      expect((await plugin.sendInvitation(params(['bob']))).error?.code).to.equal('NOT_CONNECTED');
      expect((await plugin.cancelInvitation({ invitationID: 'x', invitees: ['bob'] })).error?.code).to.equal('NOT_CONNECTED');
      expect((await plugin.acceptInvitation({ invitationID: 'x' })).error?.code).to.equal('NOT_CONNECTED');
      expect((await plugin.refuseInvitation({ invitationID: 'x' })).error?.code).to.equal('NOT_CONNECTED');
    };
    await check();
    const connecting = plugin.connectUser({ id: 'alice', name: 'Alice' });
    await check();
    openStore();
    await connecting;
    expect(plugin.user).to.deep.equal({ id: 'alice', name: 'Alice' });
    expect((await plugin.sendInvitation(params(['bob']))).error).to.equal(undefined);
    await plugin.disconnectUser();
    expect(plugin.user).to.equal(undefined);
    await check();
    // Every field README lists, at zero, once disconnected (test/core.test.ts checks the names against README).
    expect(plugin.stats()).to.deep.equal({ connectAttempts: 0, openConnections: 0, openingConnections: 0, refusedOffers: 0, bannedPeers: 0, invitations: 0, pendingDeliveries: 0 });
  });

  it('rejects connectUser with INVALID_ARGUMENT for a bad id or name', async () => {
    const plugin = world.plugin();
    const bad = [{ id: '', name: 'x' }, { id: 'bad id!', name: 'x' }, { id: 'a'.repeat(65), name: 'x' }, { id: 'alice', name: 5 }, { id: 'alice', name: 'n'.repeat(1025) }, { id: 7, name: 'x' }, undefined];
    for (const params of bad) {
      const error = await plugin.connectUser(params as never).then(
        () => undefined,
        (failure: InvitationError) => failure,
      );
      expect(error?.code, JSON.stringify(params)).to.equal('INVALID_ARGUMENT');
    }
    expect(plugin.user).to.equal(undefined);
    expect(world.network.isOnline('alice')).to.equal(false);
  });

  it('rejects a second user with ALREADY_CONNECTED, and shares the attempt for the same user', async () => {
    const plugin = world.plugin();
    const first = plugin.connectUser({ id: 'alice', name: 'Alice' });
    const again = plugin.connectUser({ id: 'alice', name: 'Alice' });
    await Promise.all([first, again]);
    const error = await plugin.connectUser({ id: 'bob', name: 'Bob' }).then(
      () => undefined,
      (failure: InvitationError) => failure,
    );
    expect(error?.code).to.equal('ALREADY_CONNECTED');
    expect(plugin.user?.id).to.equal('alice');
    await plugin.disconnectUser();
    await plugin.connectUser({ id: 'bob', name: 'Bob' });
    expect(plugin.user?.id).to.equal('bob');
    expect(world.network.isOnline('alice')).to.equal(false);
    expect(world.network.isOnline('bob')).to.equal(true);
  });

  it('rejects connectUser with USER_ID_TAKEN when another plugin holds the id, and can connect afterwards', async () => {
    await world.user('alice');
    const second = world.plugin();
    const states = world.record(second.connectionState$);
    const error = await second.connectUser({ id: 'alice', name: 'Alice' }).then(
      () => undefined,
      (failure: InvitationError) => failure,
    );
    expect(error?.code).to.equal('USER_ID_TAKEN');
    expect(second.user).to.equal(undefined);
    expect(states.at(-1)).to.equal('disconnected');
    await second.connectUser({ id: 'alice2', name: 'Alice' });
    expect(states.at(-1)).to.equal('connected');
  });

  it('reports connection states, replaying the current one', async () => {
    const plugin = world.plugin();
    const states = world.record(plugin.connectionState$);
    await plugin.connectUser({ id: 'alice', name: 'Alice' });
    world.network.setOnline('alice', false);
    world.network.setOnline('alice', true);
    const late = world.record(plugin.connectionState$);
    await plugin.disconnectUser();
    expect(states).to.deep.equal(['disconnected', 'connecting', 'connected', 'reconnecting', 'connected', 'disconnected']);
    expect(late).to.deep.equal(['connected', 'disconnected']);
  });

  it('rejects connectUser with DISPOSED when disposed meanwhile, and answers DISPOSED after dispose', async () => {
    const plugin = world.plugin();
    const completed: string[] = [];
    for (const name of ['invitationReceived$', 'invitationCanceled$', 'invitationAccepted$', 'invitationRefused$', 'invitationTimeout$', 'invitationResponseTimeout$', 'inviteeStateChanged$', 'connectionState$', 'errors$'] as const) {
      (plugin[name] as Observable<unknown>).subscribe({ complete: () => completed.push(name) });
    }
    const connecting = plugin.connectUser({ id: 'alice', name: 'Alice' }).then(
      () => undefined,
      (failure: InvitationError) => failure,
    );
    await plugin.dispose();
    expect((await connecting)?.code).to.equal('DISPOSED');
    expect(completed).to.have.length(9);
    expect(world.network.isOnline('alice')).to.equal(false);
    await plugin.dispose();

    const error = await plugin.connectUser({ id: 'alice', name: 'Alice' }).then(
      () => undefined,
      (failure: InvitationError) => failure,
    );
    expect(error?.code).to.equal('DISPOSED');
    expect((await plugin.sendInvitation(params(['bob']))).error?.code).to.equal('DISPOSED');
    expect((await plugin.cancelInvitation({ invitationID: 'x' })).error?.code).to.equal('DISPOSED');
    expect((await plugin.acceptInvitation({ invitationID: 'x' })).error?.code).to.equal('DISPOSED');
    expect((await plugin.refuseInvitation({ invitationID: 'x' })).error?.code).to.equal('DISPOSED');
  });

  it('goes on in memory with one STORAGE_FAILED when the store cannot open', async () => {
    const bob = world.plugin({
      storage: async () => {
        throw new Error('no database today');
      },
    });
    const journal = world.journal(bob);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    const alice = await world.user('alice');
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob']);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    expect(errorCodes(journal)).to.deep.equal(['STORAGE_FAILED']);
    expect(((journal[0]!.value as InvitationError).cause as Error).message).to.equal('no database today');
    expect(accepted).to.have.length(1);
  });

  it('reports one STORAGE_FAILED when writes fail, and still delivers and acknowledges', async () => {
    const bob = world.plugin({
      storage: async (name, owner) => ({
        ...(await openMemoryStore(name, owner)),
        put: async () => {
          throw new Error('quota exceeded');
        },
      }),
    });
    const journal = world.journal(bob);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    const alice = await world.user('alice');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const accepted = world.record(alice.invitationAccepted$);
    const first = await invite(alice, ['bob']);
    const second = await invite(alice, ['bob']);
    await bob.acceptInvitation({ invitationID: first });
    await bob.refuseInvitation({ invitationID: second });
    await world.clock.settle();
    expect(errorCodes(journal)).to.deep.equal(['STORAGE_FAILED']);
    expect(journal.filter((entry) => entry.event === 'invitationReceived$')).to.have.length(2);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered', 'queued', 'delivered', 'accepted', 'refused']);
    expect(accepted).to.have.length(1);
  });

  it('reports what sendInvitation set aside, and EMPTY_INVITEES when nothing is left', async () => {
    const alice = await world.user('alice');
    const empty = await alice.sendInvitation(params(['', 'alice', 'no!way']));
    expect(empty.error?.code).to.equal('EMPTY_INVITEES');
    expect(empty.invitationID).to.equal('');
    expect(empty.errorInvitees).to.deep.equal({ alice: 'self', 'no!way': 'invalid-id' });
    const invalid = await alice.sendInvitation(params(['bob'], { timeout: 0 }));
    expect(invalid.error?.code).to.equal('INVALID_ARGUMENT');
    const partial = await alice.sendInvitation(params(['bob', 'alice', 'no!way', 'bob']));
    expect(partial).to.deep.equal({ invitationID: 'alice:inv-1', errorInvitees: { alice: 'self', 'no!way': 'invalid-id' } });
    expect(alice.stats().invitations).to.equal(1);
  });

  it('does not ring again when the invitee reconnects in the same page (#8.6), and its answer still arrives', async () => {
    const alice = await world.user('alice');
    const bob = await world.user('bob');
    const received = world.record(bob.invitationReceived$);
    const accepted = world.record(alice.invitationAccepted$);
    const id = await invite(alice, ['bob']);
    await bob.disconnectUser();
    await world.clock.advance(5000);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await world.clock.settle();
    expect(received.map((event) => event.invitationID)).to.deep.equal([id]);
    await bob.acceptInvitation({ invitationID: id });
    await world.clock.settle();
    expect(accepted.map((event) => event.invitee)).to.deep.equal(['bob']);
  });

  it('keeps an unsent invite across disconnectUser and delivers it after reconnecting', async () => {
    const alice = await world.user('alice');
    const inviteeStates = world.record(alice.inviteeStateChanged$);
    const id = await invite(alice, ['bob'], { timeout: 60 });
    await alice.disconnectUser();
    await world.clock.advance(10_000);
    await alice.connectUser({ id: 'alice', name: 'Alice' });
    await world.clock.settle();
    // Still queued, and not announced again in the same page.
    expect(states(inviteeStates)).to.deep.equal(['queued']);
    const bob = world.plugin();
    const received = world.record(bob.invitationReceived$);
    await bob.connectUser({ id: 'bob', name: 'Bob' });
    await world.clock.advance(retryMaxDelayMs);
    expect(received.map((event) => event.invitationID)).to.deep.equal([id]);
    expect(received[0]!.deadline).to.equal(60_000);
    expect(states(inviteeStates)).to.deep.equal(['queued', 'delivered']);
  });
});
