// End to end in the topology of topology.mjs: two browsers in client namespaces that reach the
// servers (companion server, coturn, the page server) on the server side but, with forwarding
// off, not each other. Pages load from http://<server-side address>: an insecure origin.
//   (b) TURN from coturn, relay off: the data channel opens through a `relay` candidate, and the
//       invitation and its answer travel on it; Chromium-Chromium and Chromium-Firefox ESR.
//   (d) control, forwarding on: a direct host/host path, no TURN.
//   Secure-context features degrade as README says (ids, tabs without Web Locks).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { signToken, turnCredentials } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { startTurnServer } from '../../scripts/turn-server-process.mjs';
import { startPageServer } from './page-server.mjs';
import { createTopology, topologyUnavailable } from './topology.mjs';

const secret = 'topology-token-secret-0123456789';
const unavailable = topologyUnavailable() ?? (!existsSync('/usr/bin/turnserver') && !process.env.TURN_SERVER_PATH ? 'no turnserver (Debian coturn)' : undefined);
const TEST = { timeout: 90_000 };

/** A page of `browser` from its side's server address, with a plugin connected as `id`. */
async function openPlugin({ browser, side, pages, companion, id, iceServers = [] }) {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[${id}] pageerror`, error.message));
  await page.goto(pages.url(side.serverIp));
  await page.evaluate(
    (id, options) => window.reach.connect(id, options),
    id,
    {
      peer: { host: side.serverIp, port: companion.port, path: '/peerjs', config: { iceServers } },
      token: signToken({ secret, userId: id, expiresInSeconds: 600 }),
      storage: 'memory',
      tabs: false,
    },
  );
  return page;
}

/** Sends an invitation from `inviter` to `inviteeId`, waits for it there, accepts it, waits for the accept at the inviter. */
async function inviteAndAccept(inviter, invitee, inviteeId) {
  const sent = await inviter.evaluate((to) => window.reach.send({ inviterName: 'Alice', invitees: [to], timeout: 60, type: 1, data: 'call' }), inviteeId);
  assert.equal(sent.error, null);
  const received = await invitee.evaluate((id) => window.reach.waitFor('received', id, 30000), sent.invitationID);
  assert.equal(received.value.data, 'call');
  assert.equal(await invitee.evaluate((id) => window.reach.accept(id), sent.invitationID), null);
  await inviter.evaluate((id) => window.reach.waitFor('accepted', id, 30000), sent.invitationID);
  return sent.invitationID;
}

/** The selected candidate pairs of the page's open connections. */
async function openPairs(page) {
  const pairs = await page.evaluate(() => window.reach.selectedPairs());
  return pairs.filter(({ connectionState, local }) => connectionState === 'connected' || local);
}

describe('reach across networks with no path between the clients', { skip: unavailable }, () => {
  let topology;
  let turn;
  let companion;
  let pages;
  let turnSecret;
  before(async () => {
    topology = await createTopology({ forwarding: false });
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
    turn = await startTurnServer({ listeningIps: topology.serverIps, relayIp: topology.serverIps[0], port, minPort, maxPort: minPort + 99 });
    turnSecret = turn.secret;
    // Each side is given the TURN server on its own side's address; SERVER-INFO carries the same URLs.
    companion = await startCompanionServer({ options: { port: 0, relay: false, turn: { urls: topology.serverIps.flatMap((ip) => turn.urls(ip)), secret: turn.secret, ttlSeconds: 600 } }, secret });
    pages = await startPageServer();
  });
  after(async () => {
    await pages?.close();
    await companion?.stop();
    await turn?.stop();
    await topology?.close();
  });

  const iceServersFor = (side, id) => {
    const { urls, username, credential } = turnCredentials({ secret: turnSecret, userId: id, ttlSeconds: 600, urls: turn.urls(side.serverIp) });
    return [{ urls, username, credential }];
  };

  it('has no path between the clients, and one to the server side of each', TEST, async () => {
    const [a, b] = topology.sides;
    assert.equal(await topology.connects(a, a.serverIp), true);
    assert.equal(await topology.connects(a, b.serverIp), true, 'the other side\'s server address is the server side\'s own');
    assert.equal(await topology.connects(a, b.clientIp), false);
    assert.equal(await topology.connects(b, a.clientIp), false);
  });

  it('(b) Chromium to Chromium: the channel opens over TURN, the invitation and the answer travel on it', TEST, async () => {
    const [a, b] = topology.sides;
    const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.chromium(b)]);
    try {
      const alice = await openPlugin({ browser: browserA, side: a, pages, companion, id: 'b-alice', iceServers: iceServersFor(a, 'b-alice') });
      const bob = await openPlugin({ browser: browserB, side: b, pages, companion, id: 'b-bob', iceServers: iceServersFor(b, 'b-bob') });
      await inviteAndAccept(alice, bob, 'b-bob');
      const pairs = await openPairs(alice);
      assert.ok(pairs.length > 0, 'an RTCPeerConnection at the inviter');
      assert.ok(pairs.some(({ local, remote }) => local?.type === 'relay' || remote?.type === 'relay'), JSON.stringify(pairs));
      assert.ok((await openPairs(bob)).some(({ local, remote }) => local?.type === 'relay' || remote?.type === 'relay'));
    } finally {
      await Promise.allSettled([browserA.close(), browserB.close()]);
    }
  });

  it('(b) Chromium to Firefox ESR in the other namespace: the channel opens over TURN, both ways', TEST, async () => {
    const [a, b] = topology.sides;
    const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.firefox(b)]);
    try {
      const alice = await openPlugin({ browser: browserA, side: a, pages, companion, id: 'f-alice', iceServers: iceServersFor(a, 'f-alice') });
      const fiona = await openPlugin({ browser: browserB, side: b, pages, companion, id: 'f-fiona', iceServers: iceServersFor(b, 'f-fiona') });
      await inviteAndAccept(alice, fiona, 'f-fiona');
      const pairs = await openPairs(fiona);
      assert.ok(pairs.some(({ local, remote }) => local?.type === 'relay' || remote?.type === 'relay'), `firefox: ${JSON.stringify(pairs)}`);
      // And from Firefox's side: Firefox invites, Chromium answers.
      await inviteAndAccept(fiona, alice, 'f-alice');
    } finally {
      await Promise.allSettled([browserA.close(), browserB.close()]);
    }
  });
});

describe('the control: forwarding on, a direct path', { skip: unavailable }, () => {
  let topology;
  let companion;
  let pages;
  before(async () => {
    topology = await createTopology({ forwarding: true });
    companion = await startCompanionServer({ options: { port: 0 }, secret });
    pages = await startPageServer();
  });
  after(async () => {
    await pages?.close();
    await companion?.stop();
    await topology?.close();
  });

  it('(d) opens host to host without TURN; the insecure origin still sends invitations, and tabs fall back to one registration', TEST, async () => {
    const [a, b] = topology.sides;
    assert.equal(await topology.connects(a, b.clientIp), true);
    const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.chromium(b)]);
    try {
      const alice = await openPlugin({ browser: browserA, side: a, pages, companion, id: 'd-alice' });
      const platform = await alice.evaluate(() => window.reach.platform());
      // BROWSER-TESTING.md item 23: what a page from http://<LAN address> has and lacks.
      assert.deepEqual(
        { isSecureContext: platform.isSecureContext, randomUUID: platform.randomUUID, locks: platform.locks, serviceWorker: platform.serviceWorker, getRandomValues: platform.getRandomValues },
        { isSecureContext: false, randomUUID: 'undefined', locks: 'undefined', serviceWorker: 'undefined', getRandomValues: 'function' },
      );
      const bob = await openPlugin({ browser: browserB, side: b, pages, companion, id: 'd-bob' });
      await inviteAndAccept(alice, bob, 'd-bob');
      const pairs = await openPairs(alice);
      assert.ok(pairs.length > 0);
      for (const { local, remote } of pairs) assert.deepEqual([local?.type, remote?.type], ['host', 'host'], JSON.stringify(pairs));

      // Tabs need Web Locks: here a second tab of the same user cannot share the first's registration.
      const second = await browserA.newPage();
      await second.goto(pages.url(a.serverIp));
      const code = await second.evaluate(async (options) => {
        try {
          await window.reach.connect('d-alice', options);
          return 'connected';
        } catch (error) {
          return error.code;
        }
      }, { peer: { host: a.serverIp, port: companion.port, path: '/peerjs', config: { iceServers: [] } }, token: signToken({ secret, userId: 'd-alice', expiresInSeconds: 600 }), delivery: { idTakenRetryMs: 500 } });
      assert.equal(code, 'USER_ID_TAKEN');
      const errors = await alice.evaluate(() => window.reach.events.filter(({ event }) => event === 'error').map(({ value }) => value.code));
      assert.deepEqual(errors, []);
    } finally {
      await Promise.allSettled([browserA.close(), browserB.close()]);
    }
  });
});
