/**
 * The tab layer's parts without a network: the election over this page's own
 * Web Locks (two elections stand for two tabs), the pending calls of a
 * following tab over a channel the test plays, and the check of what another
 * tab posts.
 */
import { expect } from '@esm-bundle/chai';
import { deleteDB } from 'idb';
import { LeaderElection, tabPlatform } from '../../src/tabs/leader-election.js';
import { PendingCalls } from '../../src/tabs/pending-calls.js';
import type { TabMessage, WireResult } from '../../src/tabs/tab-channel.js';
import { fromWire, readTabMessage, toWire } from '../../src/tabs/tab-channel.js';
import { InvitationError } from '../../src/errors.js';
import type { ConnectionState } from '../../src/index.js';
import { createSignalingPlugin } from '../../src/plugin.js';
import { next } from '../helpers.js';
import { createMemoryNetwork } from '../memory-transport.js';

const lockName = () => `test-tabs:${crypto.randomUUID()}`;

describe('LeaderElection', () => {
  it('lets one tab lead, and the next in line once it lets go', async () => {
    const { locks } = tabPlatform()!;
    const name = lockName();
    const first = new LeaderElection(locks, name);
    const second = new LeaderElection(locks, name);
    expect(await first.tryLead()).to.equal(true);
    expect(await second.tryLead()).to.equal(false);
    let secondLeads = false;
    const promoted = second.waitToLead().then(() => (secondLeads = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(secondLeads).to.equal(false);
    await first.close();
    await promoted;
    expect(secondLeads).to.equal(true);
    await second.close();
    const third = new LeaderElection(locks, name);
    expect(await third.tryLead()).to.equal(true);
    await third.close();
  });

  it('a closed election stops waiting and never leads', async () => {
    const { locks } = tabPlatform()!;
    const name = lockName();
    const holder = new LeaderElection(locks, name);
    await holder.tryLead();
    const waiter = new LeaderElection(locks, name);
    let led = false;
    void waiter.waitToLead().then(() => (led = true));
    await waiter.close();
    await holder.close();
    const next = new LeaderElection(locks, name);
    expect(await next.tryLead()).to.equal(true);
    expect(led).to.equal(false);
    await next.close();
  });
});

describe('PendingCalls', () => {
  const ok: WireResult = { invitationID: 'me:1' };

  it('settles a call with the reply to its request id, and posts what is pending again for a new leader', async () => {
    const posted: TabMessage[] = [];
    const pending = new PendingCalls('tab-a', (message) => posted.push(message));
    const answer = pending.call({ method: 'accept', params: { invitationID: 'x:1' } });
    const send = pending.call({ method: 'send', params: {}, suffix: 's1' });
    expect(posted.map((message) => message.type)).to.deep.equal(['call', 'call']);
    const [first, second] = posted as Extract<TabMessage, { type: 'call' }>[];
    expect(first!.requestId).to.not.equal(second!.requestId);
    pending.reply(first!.requestId, ok);
    expect(await answer).to.deep.equal(ok);
    pending.repost();
    expect(posted.at(-1)).to.deep.include({ type: 'call', requestId: second!.requestId, suffix: 's1', method: 'send', retried: true });
    expect(second).to.not.have.property('retried');
    expect(posted).to.have.length(3);
    pending.reply(second!.requestId, ok);
    pending.reply(second!.requestId, { invitationID: 'ignored' });
    expect(await send).to.deep.equal(ok);
  });

  it('hands what is pending to this tab once it leads', async () => {
    const posted: TabMessage[] = [];
    const pending = new PendingCalls('tab-a', (message) => posted.push(message));
    const call = pending.call({ method: 'cancel', params: { invitationID: 'me:2' } });
    const handed: { method: string; params: unknown; retried?: boolean }[] = [];
    pending.drain(async ({ method, params, retried }) => {
      handed.push({ method, params, retried });
      return { invitationID: 'me:2' };
    });
    // The call, as the app made it, marked as retried (a leader that fell may have run it), and its promise settled with what this tab ran.
    expect(handed).to.deep.equal([{ method: 'cancel', params: { invitationID: 'me:2' }, retried: true }]);
    expect(await call).to.deep.equal({ invitationID: 'me:2' });
    // Handed over, nothing is left pending: a new leader is sent nothing again.
    const postedBefore = posted.length;
    pending.repost();
    expect(posted).to.have.length(postedBefore);
  });

  it('settles at once, as invalid, a call the channel cannot carry', async () => {
    const pending = new PendingCalls('tab-a', () => {
      throw new DOMException('could not be cloned', 'DataCloneError');
    });
    const result = await pending.call({ method: 'send', params: { invitees: [() => 1] } });
    expect(result.error?.code).to.equal('INVALID_ARGUMENT');
  });
});

describe('results between tabs', () => {
  it('keep the error code across the structured clone', () => {
    const wire = toWire({ invitationID: 'x:1', error: new InvitationError('ALREADY_RESPONDED', 'answered') });
    const back = fromWire<{ invitationID: string; error?: InvitationError }>(structuredClone(wire));
    expect(back.error).to.be.instanceOf(InvitationError);
    expect(back.error?.code).to.equal('ALREADY_RESPONDED');
    expect(back.invitationID).to.equal('x:1');
  });
});

describe('what another tab posts', () => {
  const received = { invitationID: 'a:1', inviter: { id: 'a', name: 'A' }, type: 0, data: '', timeout: 10, createTime: 1, deadline: 2 };
  const wellFormed: TabMessage[] = [
    { type: 'call', requestId: 't:1', from: 't', method: 'send', params: { invitees: ['b'] }, suffix: 's', retried: true },
    { type: 'call', requestId: 't:2', from: 't', method: 'refuse', params: null },
    { type: 'reply', requestId: 't:1', to: 't', result: { invitationID: '', error: { code: 'NOT_CONNECTED', message: 'gone' } } },
    { type: 'hello', from: 't' },
    { type: 'welcome', from: 't', state: 'connected', ringing: [received] },
    { type: 'welcome', from: 't', to: 'u', state: 'connecting', ringing: [] },
    { type: 'leaving', from: 't' },
    { type: 'goodbye', from: 't' },
    { type: 'event', from: 't', outlet: 'connectionState', value: 'reconnecting' },
    { type: 'event', from: 't', outlet: 'invitationReceived', value: received },
    { type: 'event', from: 't', outlet: 'inviteeStateChanged', value: { invitationID: 'a:1', invitee: 'b', state: 'ringing' } },
    { type: 'answered', from: 't', by: 'u', event: { invitationID: 'a:1', answer: 'accept', data: '' } },
  ];

  it('reads every message a tab posts', () => {
    for (const message of wellFormed) expect(readTabMessage(structuredClone(message)), JSON.stringify(message)).to.deep.equal(message);
  });

  it('drops what has not the shape of one', () => {
    const malformed: unknown[] = [
      null,
      'hello',
      [],
      { type: 'nonsense', from: 't' },
      { type: 'hello' },
      { type: 'call', requestId: 't:1', from: 't', method: 'delete', params: {} },
      { type: 'call', requestId: 1, from: 't', method: 'send', params: {} },
      { type: 'call', requestId: 't:1', from: 't', method: 'send', params: {}, suffix: 7 },
      { type: 'reply', requestId: 't:1', to: 't', result: { invitationID: 3 } },
      { type: 'reply', requestId: 't:1', to: 't', result: { invitationID: '', error: 'NOT_CONNECTED' } },
      { type: 'welcome', from: 't', state: 'bogus', ringing: [] },
      { type: 'welcome', from: 't', state: 'connected', ringing: [null] },
      { type: 'welcome', from: 't', state: 'connected' },
      { type: 'event', from: 't', outlet: 'errors', value: {} },
      { type: 'event', from: 't', outlet: 'connectionState', value: 'bogus' },
      { type: 'event', from: 't', outlet: 'invitationReceived', value: null },
      { type: 'event', from: 't', outlet: 'inviteeStateChanged', value: { invitationID: 'a:1' } },
      { type: 'answered', from: 't', by: 'u', event: { invitationID: 'a:1', answer: 'maybe', data: '' } },
      { type: 'answered', from: 't', by: 'u', event: { invitationID: 'a:1', answer: 'accept', data: 5 } },
    ];
    for (const data of malformed) expect(readTabMessage(data), JSON.stringify(data)).to.equal(undefined);
  });

  it('a following tab ignores what is out of shape and goes on with what is not', async () => {
    const network = createMemoryNetwork();
    const userId = `tabs-${crypto.randomUUID().slice(0, 8)}`;
    const options = { transport: network.transport, databaseName: `test:${userId}` };
    const leader = createSignalingPlugin(options);
    const follower = createSignalingPlugin(options);
    const channel = new BroadcastChannel(`peer-invitation:tabs:${userId}`);
    try {
      await leader.connectUser({ id: userId, name: 'U' });
      await follower.connectUser({ id: userId, name: 'U' });
      const states: ConnectionState[] = [];
      follower.connectionState$.subscribe((state) => states.push(state));
      const received: string[] = [];
      follower.invitationReceived$.subscribe((event) => received.push(event.invitationID));
      // One sender's posts arrive in order: once the probe is heard, everything before it was read.
      const probe = next(follower.invitationCanceled$, (event) => event.invitationID === 'probe', 5000);
      channel.postMessage({ type: 'event', from: 'test', outlet: 'connectionState', value: 'bogus' });
      channel.postMessage({ type: 'welcome', from: 'test', state: 'bogus', ringing: [{ invitationID: 7 }] });
      channel.postMessage({ type: 'event', from: 'test', outlet: 'invitationReceived', value: null });
      channel.postMessage({ type: 'event', from: 'test', outlet: 'invitationCanceled', value: { invitationID: 'probe', inviter: { id: 'x', name: 'X' }, data: '' } });
      await probe;
      expect(states).to.deep.equal(['connected']);
      expect(received).to.deep.equal([]);
    } finally {
      channel.close();
      await Promise.all([follower.dispose(), leader.dispose()]);
      await deleteDB(options.databaseName);
    }
  });
});
