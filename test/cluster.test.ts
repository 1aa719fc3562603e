/**
 * Two companion servers as one cluster (a real redis-server, each server its
 * own process): plugins registered on different servers invite each other over
 * real WebRTC, and an invitation queued for an offline user reaches them on
 * whichever server they register.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPluginOptions } from '../src/index.js';
import { peerOf, sign, startCompanion, stopCompanion, type Companion } from './companion.js';
import { Harness, next, uniqueId } from './helpers.js';

describe('a cluster of companion servers (Redis)', function () {
  this.timeout(90_000);
  const harness = new Harness();
  const servers: Companion[] = [];

  /** Two nodes of one cluster, sharing the token secret. */
  async function twoNodes(): Promise<[Companion, Companion]> {
    const a = await startCompanion({ secret: true, cluster: true });
    servers.push(a);
    const b = await startCompanion({ cluster: true, secretOf: a.handle });
    servers.push(b);
    return [a, b];
  }

  async function plugin(on: Companion, options: SignalingPluginOptions = {}) {
    const databaseName = `test:${uniqueId('cluster-db')}`;
    harness.track(databaseName);
    // Real IndexedDB, under a name of its own; each plugin stands for a browser of its own (no tab sharing between them).
    return harness.plugin({ storage: 'indexeddb', tabs: false, databaseName, peer: peerOf(on), token: (userId) => sign(on, userId), ...options });
  }

  afterEach(async () => {
    await harness.cleanup();
    for (const server of servers.splice(0)) await stopCompanion(server);
  });

  it('brokers an invitation and its answer between users of different servers', async () => {
    const [a, b] = await twoNodes();
    const alice = await plugin(a);
    const bob = await plugin(b);
    const bobId = uniqueId('bob');
    await alice.connectUser({ id: uniqueId('alice'), name: 'Alice' });
    await bob.connectUser({ id: bobId, name: 'Bob' });

    const received = next(bob.invitationReceived$);
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: [bobId], timeout: 30, type: 1, data: 'across servers' });
    expect((await received).data).to.equal('across servers');
    const accepted = next(alice.invitationAccepted$);
    await bob.acceptInvitation({ invitationID });
    expect((await accepted).invitee).to.equal(bobId);
  });

  it('refuses an id held on the other server: USER_ID_TAKEN', async () => {
    const [a, b] = await twoNodes();
    const id = uniqueId('carol');
    const first = await plugin(a);
    await first.connectUser({ id, name: 'Carol' });
    const second = await plugin(b, { delivery: { idTakenRetryMs: 0 } });
    const error = await second.connectUser({ id, name: 'Carol' }).then(
      () => undefined,
      (failure: { code?: string }) => failure,
    );
    expect(error?.code).to.equal('USER_ID_TAKEN');
  });

  it('delivers an invitation queued for an offline user when they register on the other server', async () => {
    const [a, b] = await twoNodes();
    // The plugin's default connect timeout, above the servers' 60 s mailbox.
    const delivery = { connectTimeoutMs: 65_000 };
    const alice = await plugin(a, { delivery });
    const daveId = uniqueId('dave');
    await alice.connectUser({ id: uniqueId('alice'), name: 'Alice' });
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: [daveId], timeout: 60, type: 0, data: 'while you were away' });
    // The offer is out, waiting on server a for an id registered nowhere.
    const deadline = performance.now() + 10_000;
    while (alice.stats().connectAttempts === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alice.stats().connectAttempts).to.be.greaterThan(0);

    const dave = await plugin(b, { delivery });
    const received = next(dave.invitationReceived$, (event) => event.invitationID === invitationID, 20_000);
    await dave.connectUser({ id: daveId, name: 'Dave' });
    expect((await received).data).to.equal('while you were away');
    // Reached by the parked attempt, not by a new one a minute later.
    expect(alice.stats().connectAttempts).to.equal(1);
  });
});
