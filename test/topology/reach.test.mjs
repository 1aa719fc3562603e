// End to end in the topology of topology.mjs: two browsers in client namespaces that reach the
// servers (companion server, coturn, the page server) on the server side but, with forwarding
// off, not each other. Pages load from http://<server-side address>: an insecure origin.
//   (a) companion server, relay on, no TURN: the invitation rings, the accept reaches the
//       inviter, a cancel reaches the invitee, all beside a data channel that never opens; also
//       with the two clients on different nodes of a two-node cluster on a real redis-server.
//   (b) TURN from coturn, handed out by the companion server in SERVER-INFO (the page passes no
//       iceServers), relay off: the data channel opens through a `relay` candidate, and the
//       invitation and its answer travel on it; Chromium-Chromium and Chromium-Firefox ESR.
//   (c) plain PeerServer, no relay, no TURN: the invitation rings on the offer; the inviter sees
//       `unreachable` (no ack can come back); the invitee's accept reaches it on the invitee's offer.
//   (d) control, forwarding on: a direct host/host path, no TURN.
//   Secure-context features degrade as README says (ids, tabs without Web Locks).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { signToken } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { startPeerServer } from '../../scripts/peer-server-process.mjs';
import { freePort, startRedisServer } from '../../scripts/redis-server-process.mjs';
import { startTurnServer } from '../../scripts/turn-server-process.mjs';
import { startPageServer } from './page-server.mjs';
import { createTopology, topologyUnavailable } from './topology.mjs';

const secret = 'topology-token-secret-0123456789';
const unavailable = topologyUnavailable() ?? (!existsSync('/usr/bin/turnserver') && !process.env.TURN_SERVER_PATH ? 'no turnserver (Debian coturn)' : undefined);
const noRedis = !existsSync(process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server') ? 'no redis-server (Debian redis-server)' : undefined;
const TEST = { timeout: 90_000 };

/** Node-side milliseconds since `start`, for the log (never asserted). */
const since = (start) => Math.round(performance.now() - start);

/** A page of `browser` from its side's server address, with a plugin connected as `id`. */
async function openPlugin({ browser, side, pages, server, id, iceServers = [], token = true }) {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[${id}] pageerror`, error.message));
  await page.goto(pages.url(side.serverIp));
  await page.evaluate(
    (id, options) => window.reach.connect(id, options),
    id,
    {
      peer: { host: side.serverIp, port: server.port, path: '/peerjs', config: { iceServers } },
      ...(token ? { token: signToken({ secret, userId: id, expiresInSeconds: 600 }) } : {}),
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

/**
 * How long (a) waits for each outcome: generous beside the relay's milliseconds, yet short of
 * the moment a connection with no path gives up (Firefox's ICE `failed` ~11 s, Chromium's
 * `connectionState` `failed` ~15 s), so an outcome that waited for that fails the test.
 */
const BEFORE_ICE_GIVES_UP = 10_000;

/**
 * (a): once the invitee is past the parked-offer window (an invite beside a channel within 1 s
 * of its registration is not read: PROTOCOL.md, "Parked offers"; it would ring only on the
 * resend, an ack timeout later), an invitation rings, its accept reaches the inviter, a second one's cancel reaches the
 * invitee; logs how long each took (the bench measures them properly).
 */
async function ringAcceptCancel(label, inviter, invitee, inviteeId) {
  await invitee.evaluate(() => window.reach.registeredFor(1100));
  let start = performance.now();
  const sent = await inviter.evaluate((to) => window.reach.send({ inviterName: 'Alice', invitees: [to], timeout: 60, type: 1, data: 'call' }), inviteeId);
  assert.equal(sent.error, null);
  const received = await invitee.evaluate((id, ms) => window.reach.waitFor('received', id, ms), sent.invitationID, BEFORE_ICE_GIVES_UP);
  assert.equal(received.value.data, 'call');
  const rang = since(start);
  start = performance.now();
  assert.equal(await invitee.evaluate((id) => window.reach.accept(id), sent.invitationID), null);
  await inviter.evaluate((id, ms) => window.reach.waitFor('accepted', id, ms), sent.invitationID, BEFORE_ICE_GIVES_UP);
  const accepted = since(start);
  const second = await inviter.evaluate((to) => window.reach.send({ inviterName: 'Alice', invitees: [to], timeout: 60, type: 1, data: 'again' }), inviteeId);
  assert.equal(second.error, null);
  await invitee.evaluate((id, ms) => window.reach.waitFor('received', id, ms), second.invitationID, BEFORE_ICE_GIVES_UP);
  start = performance.now();
  assert.equal(await inviter.evaluate((id) => window.reach.cancel(id), second.invitationID), null);
  await invitee.evaluate((id, ms) => window.reach.waitFor('canceled', id, ms), second.invitationID, BEFORE_ICE_GIVES_UP);
  console.log(`${label}: rang ${rang} ms after send, accept at the inviter ${accepted} ms after accepting, cancel at the invitee ${since(start)} ms after canceling`);
}

/** Whether any of the page's RTCPeerConnections is connected. */
async function anyConnected(page) {
  return (await page.evaluate(() => window.reach.selectedPairs())).some(({ connectionState }) => connectionState === 'connected');
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
  before(async () => {
    topology = await createTopology({ forwarding: false });
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
    turn = await startTurnServer({ listeningIps: topology.serverIps, relayIp: topology.serverIps[0], port, minPort, maxPort: minPort + 99 });
    // The pages pass no iceServers: the TURN servers (on both server-side addresses) come in SERVER-INFO only.
    companion = await startCompanionServer({ options: { port: 0, relay: false, turn: { urls: topology.serverIps.flatMap((ip) => turn.urls(ip)), secret: turn.secret, ttlSeconds: 600 } }, secret });
    pages = await startPageServer();
  });
  after(async () => {
    await pages?.close();
    await companion?.stop();
    await turn?.stop();
    await topology?.close();
  });

  it('has no path between the clients, and one to the server side of each', TEST, async () => {
    const [a, b] = topology.sides;
    assert.equal(await topology.connects(a, a.serverIp), true);
    assert.equal(await topology.connects(a, b.serverIp), true, 'the other side\'s server address is the server side\'s own');
    assert.equal(await topology.connects(a, b.clientIp), false);
    assert.equal(await topology.connects(b, a.clientIp), false);
  });

  it('(b) Chromium to Chromium: TURN from SERVER-INFO, the channel opens over it, the invitation and the answer travel on it', TEST, async () => {
    const [a, b] = topology.sides;
    const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.chromium(b)]);
    try {
      const alice = await openPlugin({ browser: browserA, side: a, pages, server: companion, id: 'b-alice' });
      const bob = await openPlugin({ browser: browserB, side: b, pages, server: companion, id: 'b-bob' });
      await inviteAndAccept(alice, bob, 'b-bob');
      const pairs = await openPairs(alice);
      assert.ok(pairs.length > 0, 'an RTCPeerConnection at the inviter');
      assert.ok(pairs.some(({ local, remote }) => local?.type === 'relay' || remote?.type === 'relay'), JSON.stringify(pairs));
      assert.ok((await openPairs(bob)).some(({ local, remote }) => local?.type === 'relay' || remote?.type === 'relay'));
    } finally {
      await Promise.allSettled([browserA.close(), browserB.close()]);
    }
  });

  it('(b) Chromium to Firefox ESR in the other namespace: TURN from SERVER-INFO, the channel opens over it, both ways', TEST, async () => {
    const [a, b] = topology.sides;
    const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.firefox(b)]);
    try {
      const alice = await openPlugin({ browser: browserA, side: a, pages, server: companion, id: 'f-alice' });
      const fiona = await openPlugin({ browser: browserB, side: b, pages, server: companion, id: 'f-fiona' });
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

describe('the relay and the offer, with no path and no TURN', { skip: unavailable }, () => {
  let topology;
  let pages;
  before(async () => {
    topology = await createTopology({ forwarding: false });
    pages = await startPageServer();
  });
  after(async () => {
    await pages?.close();
    await topology?.close();
  });

  it('(a) Chromium to Chromium through the companion server\'s relay: ring, accept, cancel, no channel needed', TEST, async () => {
    const [a, b] = topology.sides;
    const companion = await startCompanionServer({ options: { port: 0, relay: true }, secret });
    const browsers = [];
    try {
      browsers.push(await topology.chromium(a), await topology.chromium(b));
      const bob = await openPlugin({ browser: browsers[1], side: b, pages, server: companion, id: 'a-bob' });
      const alice = await openPlugin({ browser: browsers[0], side: a, pages, server: companion, id: 'a-alice' });
      await ringAcceptCancel('(a) chromium-chromium', alice, bob, 'a-bob');
      assert.equal(await anyConnected(alice), false, 'no data channel can open here: the relay carried it all');
    } finally {
      await Promise.allSettled(browsers.map((browser) => browser.close()));
      await companion.stop();
    }
  });

  it('(a) Chromium to Firefox ESR through the relay: ring, accept, cancel, both ways', TEST, async () => {
    const [a, b] = topology.sides;
    const companion = await startCompanionServer({ options: { port: 0, relay: true }, secret });
    const browsers = [];
    try {
      browsers.push(await topology.chromium(a), await topology.firefox(b));
      const fiona = await openPlugin({ browser: browsers[1], side: b, pages, server: companion, id: 'af-fiona' });
      const alice = await openPlugin({ browser: browsers[0], side: a, pages, server: companion, id: 'af-alice' });
      await ringAcceptCancel('(a) chromium-firefox', alice, fiona, 'af-fiona');
      await ringAcceptCancel('(a) firefox-chromium', fiona, alice, 'af-alice');
    } finally {
      await Promise.allSettled(browsers.map((browser) => browser.close()));
      await companion.stop();
    }
  });

  it('(a) cluster: the two clients on different nodes over a real redis-server, relay on: ring, accept, cancel', { ...TEST, skip: noRedis }, async () => {
    const [a, b] = topology.sides;
    const redis = await startRedisServer(await freePort());
    const nodes = [];
    const browsers = [];
    try {
      for (let n = 0; n < 2; n++) nodes.push(await startCompanionServer({ options: { port: 0, relay: true, redisUrl: redis.url }, secret }));
      browsers.push(await topology.chromium(a), await topology.chromium(b));
      const bob = await openPlugin({ browser: browsers[1], side: b, pages, server: nodes[1], id: 'ac-bob' });
      const alice = await openPlugin({ browser: browsers[0], side: a, pages, server: nodes[0], id: 'ac-alice' });
      await ringAcceptCancel('(a) cluster', alice, bob, 'ac-bob');
    } finally {
      await Promise.allSettled(browsers.map((browser) => browser.close()));
      await Promise.allSettled(nodes.map((node) => node.stop()));
      await redis.stop();
    }
  });

  it('(c) a plain PeerServer: the invitation rings on the offer, the inviter sees unreachable, the accept reaches it on the invitee\'s offer', TEST, async () => {
    const [a, b] = topology.sides;
    // Inside netns-run, all addresses are the server side's own (loopback and the two veths).
    const plain = await startPeerServer({ port: await freePort(), env: { PEER_HOST: '0.0.0.0' } });
    const browsers = [];
    try {
      browsers.push(await topology.chromium(a), await topology.chromium(b));
      const bob = await openPlugin({ browser: browsers[1], side: b, pages, server: plain, id: 'c-bob', token: false });
      const alice = await openPlugin({ browser: browsers[0], side: a, pages, server: plain, id: 'c-alice', token: false });
      await bob.evaluate(() => window.reach.registeredFor(1100));
      let start = performance.now();
      const sent = await alice.evaluate((to) => window.reach.send({ inviterName: 'Alice', invitees: [to], timeout: 90, type: 1, data: 'call' }), 'c-bob');
      assert.equal(sent.error, null);
      await bob.evaluate((id) => window.reach.waitFor('received', id, 30000), sent.invitationID);
      const rang = since(start);
      // No ack can come back (no channel, no relay): the leg stays queued until the connection fails.
      await alice.evaluate((id) => window.reach.waitFor('state', id, 40000, 'unreachable'), sent.invitationID);
      const unreachable = since(start);
      const errors = await alice.evaluate(() => window.reach.events.filter(({ event }) => event === 'error').map(({ value }) => value));
      assert.ok(errors.some(({ code, message }) => code === 'PEER_UNREACHABLE' && message.includes('c-bob')), JSON.stringify(errors));
      start = performance.now();
      assert.equal(await bob.evaluate((id) => window.reach.accept(id), sent.invitationID), null);
      // On the invitee's own offer, beside the inviter's retried one that never opens: not after it gives up.
      await alice.evaluate((id, ms) => window.reach.waitFor('accepted', id, ms), sent.invitationID, BEFORE_ICE_GIVES_UP);
      console.log(`(c) plain PeerServer: rang ${rang} ms after send, unreachable ${unreachable} ms after send, accept at the inviter ${since(start)} ms after accepting`);
      assert.equal(await anyConnected(alice), false);
    } finally {
      await Promise.allSettled(browsers.map((browser) => browser.close()));
      await plain.stop();
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
      const alice = await openPlugin({ browser: browserA, side: a, pages, server: companion, id: 'd-alice' });
      const platform = await alice.evaluate(() => window.reach.platform());
      // BROWSER-TESTING.md item 23: what a page from http://<LAN address> has and lacks.
      assert.deepEqual(
        { isSecureContext: platform.isSecureContext, randomUUID: platform.randomUUID, locks: platform.locks, serviceWorker: platform.serviceWorker, getRandomValues: platform.getRandomValues },
        { isSecureContext: false, randomUUID: 'undefined', locks: 'undefined', serviceWorker: 'undefined', getRandomValues: 'function' },
      );
      const bob = await openPlugin({ browser: browserB, side: b, pages, server: companion, id: 'd-bob' });
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
