/**
 * Takeover while the server still holds the id, on the in-memory network: tabs
 * are two plugins of this page (they share its Web Locks, BroadcastChannel and
 * IndexedDB), in real time. The tab that takes over keeps trying in the
 * background, says so once on `errors$`, and rings once the id is free.
 */
import { expect } from '@esm-bundle/chai';
import { deleteDB } from 'idb';
import type { InvitationError, SignalingPlugin, SignalingPluginOptions } from '../../src/index.js';
import { createSignalingPlugin } from '../../src/plugin.js';
import type { TransportFactory } from '../../src/transport/transport.js';
import { next } from '../helpers.js';
import { createMemoryNetwork } from '../memory-transport.js';

describe('tab takeover while the id is still taken', () => {
  const plugins: SignalingPlugin[] = [];
  const databases: string[] = [];
  afterEach(async () => {
    await Promise.all(plugins.splice(0).map((plugin) => plugin.dispose()));
    await Promise.all(databases.splice(0).map((name) => deleteDB(name)));
  });

  const plugin = (options: SignalingPluginOptions) => {
    const created = createSignalingPlugin({ delivery: { ackTimeoutMs: 300, retryInitialDelayMs: 20, retryMaxDelayMs: 100 }, ...options });
    plugins.push(created);
    return created;
  };

  it('keeps registering in the background, reports USER_ID_TAKEN once, and rings when the id is free', async () => {
    const network = createMemoryNetwork();
    const userId = `tabs-${crypto.randomUUID().slice(0, 8)}`;
    const databaseName = `test:${userId}`;
    databases.push(databaseName);
    // The second tab's first registration waits until the test lets it go.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const gated: TransportFactory = (context) => {
      const transport = network.transport(context);
      const open = transport.open.bind(transport);
      transport.open = async () => {
        await gate;
        return open();
      };
      return transport;
    };

    const first = plugin({ transport: network.transport, databaseName });
    await first.connectUser({ id: userId, name: 'U' });
    const second = plugin({ transport: gated, databaseName });
    const secondErrors: InvitationError[] = [];
    second.errors$.subscribe((error) => secondErrors.push(error));
    await second.connectUser({ id: userId, name: 'U' });

    // The first tab goes; another device takes the id before the second tab registers.
    await first.disconnectUser();
    const squatter = plugin({ transport: network.transport, storage: 'memory', tabs: false });
    await squatter.connectUser({ id: userId, name: 'elsewhere' });
    const reported = next(second.errors$, (error) => error.code === 'USER_ID_TAKEN', 5000);
    openGate();
    await reported;
    expect(network.transportOf(userId)).to.not.equal(undefined);

    const connected = next(second.connectionState$, (state) => state === 'connected', 10_000);
    await squatter.disconnectUser();
    await connected;
    const inviter = plugin({ transport: network.transport, storage: 'memory', tabs: false });
    await inviter.connectUser({ id: `${userId}-inviter`, name: 'I' });
    const rings = next(second.invitationReceived$, () => true, 5000);
    const { invitationID } = await inviter.sendInvitation({ inviterName: 'I', invitees: [userId], timeout: 10, type: 0, data: '' });
    expect((await rings).invitationID).to.equal(invitationID);
    expect(secondErrors.filter((error) => error.code === 'USER_ID_TAKEN')).to.have.length(1);
  });

  it('reports USER_ID_TAKEN once however many of its attempts fail', async () => {
    const network = createMemoryNetwork();
    const userId = `tabs-${crypto.randomUUID().slice(0, 8)}`;
    const databaseName = `test:${userId}`;
    databases.push(databaseName);
    // Each attempt of the second tab makes a transport; its first waits until the squatter holds the id.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let attempts = 0;
    let thirdAttempt!: () => void;
    const thirdAttemptMade = new Promise<void>((resolve) => (thirdAttempt = resolve));
    const counted: TransportFactory = (context) => {
      const transport = network.transport(context);
      if (++attempts === 3) thirdAttempt();
      const open = transport.open.bind(transport);
      transport.open = async () => {
        await gate;
        return open();
      };
      return transport;
    };

    const first = plugin({ transport: network.transport, databaseName });
    await first.connectUser({ id: userId, name: 'U' });
    const second = plugin({ transport: counted, databaseName });
    const secondErrors: InvitationError[] = [];
    second.errors$.subscribe((error) => secondErrors.push(error));
    await second.connectUser({ id: userId, name: 'U' });
    await first.disconnectUser();
    const squatter = plugin({ transport: network.transport, storage: 'memory', tabs: false });
    await squatter.connectUser({ id: userId, name: 'elsewhere' });
    openGate();
    await thirdAttemptMade;

    const connected = next(second.connectionState$, (state) => state === 'connected', 10_000);
    await squatter.disconnectUser();
    await connected;
    expect(attempts).to.be.greaterThan(2);
    expect(secondErrors.filter((error) => error.code === 'USER_ID_TAKEN')).to.have.length(1);
  });

  it('a tab that takes over tells the tabs that followed the old leader, and stops telling once none follows', async () => {
    const network = createMemoryNetwork();
    const userId = `tabs-${crypto.randomUUID().slice(0, 8)}`;
    const databaseName = `test:${userId}`;
    databases.push(databaseName);
    const first = plugin({ transport: network.transport, databaseName });
    await first.connectUser({ id: userId, name: 'U' });
    const second = plugin({ transport: network.transport, databaseName });
    await second.connectUser({ id: userId, name: 'U' });
    const third = plugin({ transport: network.transport, databaseName });
    await third.connectUser({ id: userId, name: 'U' });

    // The second and third said hello to the first; the second leads now, and never heard the third say hello.
    const connected = next(second.connectionState$, (state) => state === 'connected', 10_000);
    await first.disconnectUser();
    await connected;
    const inviter = plugin({ transport: network.transport, storage: 'memory', tabs: false });
    await inviter.connectUser({ id: `${userId}-inviter`, name: 'I' });
    const ringsInThird = next(third.invitationReceived$, () => true, 5000);
    const { invitationID } = await inviter.sendInvitation({ inviterName: 'I', invitees: [userId], timeout: 10, type: 0, data: 'to both' });
    expect((await ringsInThird).invitationID).to.equal(invitationID);

    // The third goes: the second rings on its own, and a tab that joins later hears it again.
    await third.disconnectUser();
    const ringsInSecond = next(second.invitationReceived$, (event) => event.data === 'alone', 5000);
    await inviter.sendInvitation({ inviterName: 'I', invitees: [userId], timeout: 10, type: 0, data: 'alone' });
    await ringsInSecond;
    const fourth = plugin({ transport: network.transport, databaseName });
    await fourth.connectUser({ id: userId, name: 'U' });
    const ringsInFourth = next(fourth.invitationReceived$, (event) => event.data === 'later', 5000);
    await inviter.sendInvitation({ inviterName: 'I', invitees: [userId], timeout: 10, type: 0, data: 'later' });
    await ringsInFourth;
  });
});
