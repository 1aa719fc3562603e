/**
 * A cluster of companion servers when a process dies: a node killed with SIGKILL
 * (its clients come back to another node behind one load-balanced address, or to a
 * new process that takes over its port) and a redis-server killed and started again.
 */
import { expect } from '@esm-bundle/chai';
import type { SignalingPluginOptions } from '../src/index.js';
import type { PeerServerOptions } from '../src/api/types.js';
import { companion, peerOf, sign, startCompanion, stopCompanion, type Companion } from './companion.js';
import { Harness, next, uniqueId, waitUntil } from './helpers.js';

describe('a cluster of companion servers when a process dies', function () {
  this.timeout(90_000);
  const harness = new Harness();
  const servers: Companion[] = [];

  async function twoNodes(): Promise<[Companion, Companion]> {
    const a = await startCompanion({ secret: true, cluster: true });
    servers.push(a);
    const b = await startCompanion({ cluster: true, secretOf: a.handle });
    servers.push(b);
    return [a, b];
  }

  const balancers: { port: number }[] = [];

  /** One address in front of `nodes`: a connection goes to the first that accepts it. */
  async function balancer(...nodes: Companion[]): Promise<PeerServerOptions> {
    const address = await companion<{ host: string; port: number; path: string }>({ action: 'balancer', handles: nodes.map((node) => node.handle) });
    balancers.push(address);
    return { ...address, config: { iceServers: [] }, debug: 0 };
  }

  /** A user whose plugin reaches the cluster through `on` (tokens signed with the cluster's secret), or through `peer`. */
  async function user(on: Companion, name: string, options: SignalingPluginOptions = {}) {
    const databaseName = `test:${uniqueId('failover-db')}`;
    harness.track(databaseName);
    // Real IndexedDB, under a name of its own; each plugin stands for a browser of its own (no tab sharing between them).
    const plugin = await harness.plugin({ storage: 'indexeddb', tabs: false, databaseName, peer: peerOf(on), token: (userId) => sign(on, userId), ...options });
    const id = uniqueId(name.toLowerCase());
    await plugin.connectUser({ id, name });
    return { plugin, id };
  }

  afterEach(async () => {
    await harness.cleanup();
    for (const { port } of balancers.splice(0)) await companion({ action: 'balancerStop', port });
    for (const server of servers.splice(0)) await stopCompanion(server);
  });

  it('delivers an invitation sent while the invitee\'s node is dead (SIGKILL) once they are back on a new process', async () => {
    const [a, b] = await twoNodes();
    const alice = await user(a, 'Alice');
    const bob = await user(b, 'Bob');

    const bobReconnecting = next(bob.plugin.connectionState$, (state) => state === 'reconnecting', 20_000);
    await companion({ action: 'crash', handle: b.handle });
    await bobReconnecting;

    // Bob's claim still names node b, which is gone: node a keeps the offer for him.
    const rings = next(bob.plugin.invitationReceived$, undefined, 60_000);
    const { invitationID, error } = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 1, data: 'while your server was down' });
    expect(error).to.equal(undefined);
    await waitUntil(() => alice.plugin.stats().connectAttempts > 0, 'alice tried to reach bob');

    await companion({ action: 'relaunch', handle: b.handle });
    expect((await rings).invitationID).to.equal(invitationID);
    await next(bob.plugin.connectionState$, (state) => state === 'connected', 30_000);
    const accepted = next(alice.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 30_000);
    await bob.plugin.acceptInvitation({ invitationID });
    expect((await accepted).invitee).to.equal(bob.id);
  });

  it('delivers an invitation sent while the invitee\'s node is dead (SIGKILL) once they are back on another node behind the same address', async () => {
    const [a, b] = await twoNodes();
    const alice = await user(a, 'Alice');
    // Bob's address leads to node b while it lives, then to node a.
    const bob = await user(a, 'Bob', { peer: await balancer(b, a) });

    const bobReconnecting = next(bob.plugin.connectionState$, (state) => state === 'reconnecting', 20_000);
    await companion({ action: 'crash', handle: b.handle });
    await bobReconnecting;

    const rings = next(bob.plugin.invitationReceived$, undefined, 60_000);
    const { invitationID, error } = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 1, data: 'your server is gone' });
    expect(error).to.equal(undefined);
    expect((await rings).invitationID).to.equal(invitationID);
    const accepted = next(alice.plugin.invitationAccepted$, (event) => event.invitationID === invitationID, 30_000);
    await bob.plugin.acceptInvitation({ invitationID });
    expect((await accepted).invitee).to.equal(bob.id);
  });

  it('keeps same-node invitations going while Redis is down, and routes across nodes again once it is back', async () => {
    const [a, b] = await twoNodes();
    const alice = await user(a, 'Alice');
    const carol = await user(a, 'Carol');
    const bob = await user(b, 'Bob');

    await companion({ action: 'redisCrash' });
    try {
      const ringsCarol = next(carol.plugin.invitationReceived$, undefined, 20_000);
      const toCarol = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [carol.id], timeout: 30, type: 0, data: 'same node, no Redis' });
      expect((await ringsCarol).invitationID).to.equal(toCarol.invitationID);
    } finally {
      await companion({ action: 'redisRelaunch' });
    }

    const ringsBob = next(bob.plugin.invitationReceived$, undefined, 45_000);
    const toBob = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 60, type: 0, data: 'across nodes, Redis back' });
    expect((await ringsBob).invitationID).to.equal(toBob.invitationID);
  });
});
