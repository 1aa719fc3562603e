/**
 * v2 ↔ v3 in basic mode (issue #20): the v2 plugin as released (commit 95b76ae, built into
 * test/fixtures/peer-invitation-v2.iife.js by scripts/build-v2-fixture.mjs) in a page of its own
 * (test/fixtures/v2-page.html, its own browser context), against the current plugin in the test
 * page, over a real PeerServer and real data channels. A v2 peer reports any frame it cannot read
 * (an unknown kind, `refused: 'overloaded'`) as a PROTOCOL_VIOLATION on its errors$: every test
 * checks it has none, and that every frame it was sent is of a kind v2 knows.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPlugin, SignalingPluginOptions } from '../src/index.js';
import { FAST_DELIVERY, Harness, next, pageCommand as page, peerOptions, record, uniqueId, waitUntil } from './helpers.js';

/** The kinds of protocol version 2 (PROTOCOL.md, "Messages"). */
const V2_KINDS = ['invite', 'cancel', 'accept', 'refuse', 'ack', 'hello', 'ping'];
const MEMORY: SignalingPluginOptions = { storage: 'memory', tabs: false };

class V2Peer {
  constructor(
    readonly handle: number,
    readonly id: string,
  ) {}

  async evaluate<T>(expression: string): Promise<T> {
    return (await page<{ value: T }>({ action: 'evaluate', handle: this.handle, expression })).value;
  }

  /** Calls a method of the page's `window.v2Peer` with JSON arguments. */
  call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.evaluate(`window.v2Peer.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`);
  }

  waitFor(event: string, invitationID: string): Promise<void> {
    const expression = `window.v2Peer.events.some((e) => e.event === ${JSON.stringify(event)} && e.value.invitationID === ${JSON.stringify(invitationID)})`;
    return page({ action: 'waitFor', handle: this.handle, expression });
  }

  /** The values the page recorded for `event`. */
  values<T>(event: string): Promise<T[]> {
    return this.evaluate(`window.v2Peer.events.filter((e) => e.event === ${JSON.stringify(event)}).map((e) => e.value)`);
  }

  /** What a v2 plugin must never see: errors of its own, and frames of a kind it does not know. */
  async expectNothingUnreadable(): Promise<void> {
    expect(await this.values('error')).to.deep.equal([]);
    const kinds = await this.evaluate<string[]>('window.v2Peer.kinds');
    expect(kinds, 'frames the v2 page saw arrive').to.not.be.empty;
    expect(kinds.filter((kind) => !V2_KINDS.includes(kind))).to.deep.equal([]);
  }
}

describe('v2 ↔ v3 interop in basic mode (the v2 plugin of commit 95b76ae)', () => {
  const harness = new Harness();
  const pages: V2Peer[] = [];
  afterEach(async () => {
    for (const peer of pages.splice(0)) {
      await peer.evaluate('window.v2Peer.dispose()').catch(() => {});
      await page({ action: 'close', handle: peer.handle });
    }
    await harness.cleanup();
  });

  /** Opens the v2 page in a browser context of its own and connects its plugin as `id`. */
  async function v2Peer(id = uniqueId('v2'), options: Record<string, unknown> = {}): Promise<V2Peer> {
    const { handle } = await page<{ handle: number }>({ action: 'open', url: '/test/fixtures/v2-page.html', isolated: true });
    const peer = new V2Peer(handle, id);
    pages.push(peer);
    await page({ action: 'waitFor', handle, expression: 'window.v2Peer !== undefined && window.PeerInvitationV2 !== undefined' });
    await peer.call('connect', id, { peer: await peerOptions(), delivery: FAST_DELIVERY, storage: 'memory', ...options });
    return peer;
  }

  /** A current (v3) plugin in the test page, and everything its errors$ said. */
  async function v3User(prefix: string, options: SignalingPluginOptions = {}): Promise<{ plugin: SignalingPlugin; id: string; errors: unknown[] }> {
    const user = await harness.user(prefix, { ...MEMORY, ...options });
    return { ...user, errors: record(user.plugin.errors$).values };
  }

  const invite = (invitees: string[], extra: Record<string, unknown> = {}) => ({ inviterName: 'Inviter', invitees, timeout: 20, type: 1, data: 'call me', ...extra });

  it('the fixture is a v2 plugin', async () => {
    const old = await v2Peer();
    expect(await old.call('version')).to.equal(2);
  });

  describe('v2 inviter → v3 invitee', () => {
    it('invite and accept', async () => {
      const bob = await v3User('bob');
      const old = await v2Peer();
      const rings = next(bob.plugin.invitationReceived$);
      const invitationID = await old.call<string>('send', invite([bob.id]));
      const ring = await rings;
      expect(ring).to.include({ invitationID, type: 1, data: 'call me' });
      expect(ring.inviter.id).to.equal(old.id);
      expect(ring.callID).to.equal(undefined);
      expect((await bob.plugin.acceptInvitation({ invitationID, data: 'yes' })).error).to.equal(undefined);
      await old.waitFor('accepted', invitationID);
      expect(await old.values('accepted')).to.deep.equal([{ invitationID, invitee: bob.id, data: 'yes' }]);
      await old.expectNothingUnreadable();
      expect(bob.errors).to.deep.equal([]);
    });

    it('refuse', async () => {
      const bob = await v3User('bob');
      const old = await v2Peer();
      const rings = next(bob.plugin.invitationReceived$);
      const invitationID = await old.call<string>('send', invite([bob.id]));
      await rings;
      expect((await bob.plugin.refuseInvitation({ invitationID, data: 'no' })).error).to.equal(undefined);
      await old.waitFor('refused', invitationID);
      expect(await old.values('refused')).to.deep.equal([{ invitationID, invitee: bob.id, data: 'no' }]);
      await old.expectNothingUnreadable();
      expect(bob.errors).to.deep.equal([]);
    });

    it('cancel', async () => {
      const bob = await v3User('bob');
      const old = await v2Peer();
      const rings = next(bob.plugin.invitationReceived$);
      const invitationID = await old.call<string>('send', invite([bob.id]));
      await rings;
      const canceled = next(bob.plugin.invitationCanceled$);
      expect(await old.call('cancel', invitationID)).to.equal(null);
      expect(await canceled).to.deep.include({ invitationID, data: '' });
      await old.expectNothingUnreadable();
      expect(bob.errors).to.deep.equal([]);
    });

    it('timeout on both sides', async () => {
      const bob = await v3User('bob');
      const old = await v2Peer();
      const rings = next(bob.plugin.invitationReceived$);
      const timedOut = next(bob.plugin.invitationTimeout$);
      const invitationID = await old.call<string>('send', invite([bob.id], { timeout: 1.5 }));
      await rings;
      expect((await timedOut).invitationID).to.equal(invitationID);
      await old.waitFor('responseTimeout', invitationID);
      expect(await old.values('responseTimeout')).to.deep.equal([{ invitationID, invitees: [bob.id] }]);
      await old.expectNothingUnreadable();
      expect(bob.errors).to.deep.equal([]);
    });
  });

  describe('v3 inviter → v2 invitee', () => {
    it('invite and accept', async () => {
      const alice = await v3User('alice');
      const old = await v2Peer();
      const accepted = next(alice.plugin.invitationAccepted$);
      const { invitationID, error } = await alice.plugin.sendInvitation(invite([old.id]));
      expect(error).to.equal(undefined);
      await old.waitFor('received', invitationID);
      const [ring] = await old.values<{ inviter: { id: string }; type: number; data: string }>('received');
      expect(ring).to.deep.include({ invitationID, type: 1, data: 'call me' });
      expect(ring!.inviter.id).to.equal(alice.id);
      expect(await old.call('accept', invitationID)).to.equal(null);
      expect(await accepted).to.deep.equal({ invitationID, invitee: old.id, data: '' });
      await old.expectNothingUnreadable();
      expect(alice.errors).to.deep.equal([]);
    });

    it('refuse', async () => {
      const alice = await v3User('alice');
      const old = await v2Peer();
      const refused = next(alice.plugin.invitationRefused$);
      const { invitationID } = await alice.plugin.sendInvitation(invite([old.id]));
      await old.waitFor('received', invitationID);
      expect(await old.call('refuse', invitationID)).to.equal(null);
      expect(await refused).to.deep.equal({ invitationID, invitee: old.id, data: '' });
      await old.expectNothingUnreadable();
      expect(alice.errors).to.deep.equal([]);
    });

    it('cancel', async () => {
      const alice = await v3User('alice');
      const old = await v2Peer();
      const { invitationID } = await alice.plugin.sendInvitation(invite([old.id]));
      await old.waitFor('received', invitationID);
      expect((await alice.plugin.cancelInvitation({ invitationID, data: 'sorry' })).error).to.equal(undefined);
      await old.waitFor('canceled', invitationID);
      expect(await old.values('canceled')).to.deep.equal([{ invitationID, inviter: { id: alice.id, name: 'Inviter' }, data: 'sorry' }]);
      await old.expectNothingUnreadable();
      expect(alice.errors).to.deep.equal([]);
    });

    it('timeout on both sides', async () => {
      const alice = await v3User('alice');
      const old = await v2Peer();
      const timedOut = next(alice.plugin.invitationResponseTimeout$);
      const { invitationID } = await alice.plugin.sendInvitation(invite([old.id], { timeout: 1.5 }));
      await old.waitFor('received', invitationID);
      expect(await timedOut).to.deep.equal({ invitationID, invitees: [old.id] });
      await old.waitFor('timeout', invitationID);
      await old.expectNothingUnreadable();
      expect(alice.errors).to.deep.equal([]);
    });

    it('an invitation to a v2 peer that connects later is delivered when it does', async () => {
      const alice = await v3User('alice');
      const oldId = uniqueId('v2');
      const states = record(alice.plugin.inviteeStateChanged$);
      const accepted = next(alice.plugin.invitationAccepted$, () => true, 30_000);
      const { invitationID, error } = await alice.plugin.sendInvitation(invite([oldId], { timeout: 60 }));
      expect(error).to.equal(undefined);
      // A second attempt: the PeerServer dropped the first offer unclaimed, so what reaches the v2 peer is the inviter's own retry.
      await waitUntil(() => alice.plugin.stats().connectAttempts >= 2, 'a second connection attempt', 20_000);
      expect(states.values.map((event) => event.state)).to.deep.equal(['queued']);
      const old = await v2Peer(oldId);
      await old.waitFor('received', invitationID);
      expect(await old.call('accept', invitationID)).to.equal(null);
      expect(await accepted).to.deep.equal({ invitationID, invitee: oldId, data: '' });
      await old.expectNothingUnreadable();
      expect(alice.errors).to.deep.equal([]);
    });
  });

  describe('refusals without ringing', () => {
    it('over a protection limit, a v3 invitee refuses a v2 inviter as busy and a v3 inviter as overloaded', async () => {
      const bob = await v3User('bob', { limits: { maxLiveInvitationsPerInviter: 1 } });
      const carol = await v3User('carol');
      const old = await v2Peer();
      const rings = record(bob.plugin.invitationReceived$);

      const first = await old.call<string>('send', invite([bob.id]));
      await waitUntil(() => rings.values.length === 1, 'the first ring');
      const second = await old.call<string>('send', invite([bob.id]));
      await old.waitFor('refused', second);
      expect(await old.values('refused')).to.deep.equal([{ invitationID: second, invitee: bob.id, data: '', reason: 'busy' }]);

      const refused = next(carol.plugin.invitationRefused$);
      await carol.plugin.sendInvitation(invite([bob.id]));
      await waitUntil(() => rings.values.length === 2, 'the second ring');
      const { invitationID } = await carol.plugin.sendInvitation(invite([bob.id]));
      expect(await refused).to.deep.equal({ invitationID, invitee: bob.id, data: '', reason: 'overloaded' });

      expect(rings.values.map((ring) => ring.inviter.id)).to.deep.equal([old.id, carol.id]);
      expect(rings.values[0]!.invitationID).to.equal(first);
      await old.expectNothingUnreadable();
    });

    it('refuseWhenBusy refuses a v2 inviter as busy, unrung', async () => {
      const bob = await v3User('bob', { refuseWhenBusy: true });
      await bob.plugin.setBusy(true);
      const old = await v2Peer();
      const rings = record(bob.plugin.invitationReceived$);
      const invitationID = await old.call<string>('send', invite([bob.id]));
      await old.waitFor('refused', invitationID);
      expect(await old.values('refused')).to.deep.equal([{ invitationID, invitee: bob.id, data: '', reason: 'busy' }]);
      expect(rings.values).to.deep.equal([]);
      await old.expectNothingUnreadable();
      expect(bob.errors).to.deep.equal([]);
    });
  });

  it('an advanced-mode call rings a v2 peer as a basic invitation; it accepts, and is sent no call message', async () => {
    const alice = await v3User('alice');
    const bob = await v3User('bob');
    const old = await v2Peer();
    const accepted = record(alice.plugin.invitationAccepted$);
    const bobRings = next(bob.plugin.invitationReceived$);
    const { invitationID, error } = await alice.plugin.sendInvitation(invite([old.id, bob.id], { advancedMode: true }));
    expect(error).to.equal(undefined);

    await old.waitFor('received', invitationID);
    const [ring] = await old.values<Record<string, unknown>>('received');
    expect(Object.keys(ring!).sort()).to.deep.equal(['createTime', 'data', 'deadline', 'invitationID', 'inviter', 'timeout', 'type']);
    expect((await bobRings).callID).to.equal(invitationID);

    // Bob, a v3 member, speaks in the call: call messages flow between Alice and Bob.
    const bobInCall = next(alice.plugin.invitationUserStateChanged$, (event) => event.users.some((user) => user.id === bob.id && user.state === 'accepted'));
    expect((await bob.plugin.acceptInvitation({ invitationID })).error).to.equal(undefined);
    await bobInCall;
    expect(await old.call('accept', invitationID)).to.equal(null);
    await waitUntil(() => accepted.values.length === 2, 'both accepts');
    expect(accepted.values.map((event) => event.invitee).sort()).to.deep.equal([old.id, bob.id].sort());

    const ended = next(bob.plugin.invitationEnded$);
    expect((await alice.plugin.endInvitation({ invitationID, data: 'bye' })).error).to.equal(undefined);
    expect(await ended).to.deep.equal({ invitationID, by: alice.id, data: 'bye' });

    // A later invitation on the same ordered channel: once it rang, anything sent before it has arrived.
    const { invitationID: barrier } = await alice.plugin.sendInvitation(invite([old.id]));
    await old.waitFor('received', barrier);
    expect(await old.evaluate<string[]>('window.v2Peer.kinds')).to.include('invite');
    await old.expectNothingUnreadable();
    expect(await old.values('canceled')).to.deep.equal([]);
    expect(alice.errors).to.deep.equal([]);
    expect(bob.errors).to.deep.equal([]);
  });
});
