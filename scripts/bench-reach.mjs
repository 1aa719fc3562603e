// Reach, measured (issue #17): inside ../shared/netns-run, in the topology of
// test/topology/topology.mjs (two client namespaces, Chromium in each, pages from the server side):
//   - cold delivery with the real plugin (send -> invitationReceived$ at a fresh invitee, no open
//     connection) over the direct path (forwarding on), over TURN (forwarding off, coturn, the
//     credentials from the companion server's SERVER-INFO, relay off) and over the relay
//     (forwarding off, no TURN, relay on);
//   - cold delivery on loopback (two pages of one Chromium outside the client namespaces)
//     against raw PeerJS's connect + first message in the same run;
//   - a relayed message's round trip through the companion server, between the two pages
//     (raw PeerServer-protocol WebSockets);
//   - the server's cost: RELAY frames relayed per second by one process, beside OFFERs, from
//     raw Node clients on 127.0.0.1.
// Each fresh invitee is first left past the 1 s parked-offer window (PROTOCOL.md).
// Bounded: BENCH_REACH_ROUNDS (default 15) deliveries per path, 200 relay round trips, and
// 200 clients x 200 frames per server measure.   node scripts/bench-reach.mjs (after npm run build)
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import puppeteer from 'puppeteer-core';
import { signToken } from '../dist/server/index.js';
import { startPageServer } from '../test/topology/page-server.mjs';
import { CHROMIUM_ARGS, createTopology, topologyUnavailable } from '../test/topology/topology.mjs';
import { startCompanionServer } from './companion-server-process.mjs';
import { startTurnServer } from './turn-server-process.mjs';

const ROUNDS = Number(process.env.BENCH_REACH_ROUNDS ?? 15);
const secret = randomBytes(32).toString('base64url');
const token = (id) => signToken({ secret, userId: id, expiresInSeconds: 600 });

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, median: Math.round(at(0.5) * 10) / 10, p95: Math.round(at(0.95) * 10) / 10 };
}

async function openPlugin(browser, host, pages, companion, id) {
  const page = await browser.newPage();
  await page.goto(pages.url(host));
  await page.evaluate((id, options) => window.reach.connect(id, options), id, {
    peer: { host, port: companion.port, path: '/peerjs', config: { iceServers: [] } },
    token: token(id),
    storage: 'memory',
    tabs: false,
  });
  return page;
}

/** Cold deliveries: each round a fresh invitee id (a new plugin in page B), so no connection to it is open. */
async function coldDeliveries({ browsers: [browserA, browserB], hosts: [hostA, hostB], pages, companion, label }) {
  const alice = await openPlugin(browserA, hostA, pages, companion, `${label}-alice`);
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const id = `${label}-bob-${round}`;
    const bob = await openPlugin(browserB, hostB, pages, companion, id);
    await bob.evaluate(() => window.reach.registeredFor(1100));
    const sentAt = await alice.evaluate(async (to) => {
      const at = performance.timeOrigin + performance.now();
      const { error } = await window.reach.send({ inviterName: 'A', invitees: [to], timeout: 60, type: 1, data: '' });
      if (error) throw new Error(error);
      return at;
    }, id);
    const received = await bob.evaluate(() => window.reach.waitFor('received', undefined, 30000).then(({ at }) => performance.timeOrigin + at));
    times.push(received - sentAt);
    await bob.evaluate(() => window.reach.dispose());
    await bob.close();
  }
  await alice.evaluate(() => window.reach.dispose());
  return summary(times);
}

/** In the topology: one Chromium in each client namespace. */
async function topologyColdDeliveries({ topology, ...rest }) {
  const browsers = await Promise.all(topology.sides.map((side) => topology.chromium(side)));
  try {
    return await coldDeliveries({ browsers, hosts: topology.serverIps, ...rest });
  } finally {
    await Promise.allSettled(browsers.map((browser) => browser.close()));
  }
}

/** Raw PeerJS on loopback: a fresh Peer in page B each round; A connects and sends one message once open; B's `data`. */
async function rawPeerJsFirstMessages({ browser, pages, companion }) {
  const open = async () => {
    const page = await browser.newPage();
    await page.goto(pages.url('127.0.0.1'));
    await page.addScriptTag({ url: '/peerjs.min.js' });
    return page;
  };
  const newPeer = (page, id) =>
    page.evaluate((id, options) => new Promise((resolve, reject) => {
      window.rawPeer?.destroy();
      const peer = new window.peerjs.Peer(id, options);
      window.rawPeer = peer;
      peer.on('open', () => resolve());
      peer.on('error', (error) => reject(new Error(error.type)));
      peer.on('connection', (connection) => connection.on('data', () => (window.firstAt = performance.timeOrigin + performance.now())));
    }), id, { host: '127.0.0.1', port: companion.port, path: '/peerjs', token: token(id), config: { iceServers: [] } });
  const [pageA, pageB] = await Promise.all([open(), open()]);
  try {
    await newPeer(pageA, 'raw-alice');
    const times = [];
    for (let round = 0; round < ROUNDS; round++) {
      const id = `raw-bob-${round}`;
      await newPeer(pageB, id);
      await pageB.evaluate(() => (window.firstAt = undefined));
      const sentAt = await pageA.evaluate((to) => {
        const at = performance.timeOrigin + performance.now();
        const connection = window.rawPeer.connect(to, { reliable: true, serialization: 'json' });
        connection.on('open', () => connection.send({ hello: 'first' }));
        return at;
      }, id);
      const firstAt = await pageB.waitForFunction(() => window.firstAt, { timeout: 30000, polling: 5 }).then((handle) => handle.jsonValue());
      times.push(firstAt - sentAt);
    }
    return summary(times);
  } finally {
    await Promise.allSettled([pageA.close(), pageB.close()]);
  }
}

/** Round trips of a RELAY between two pages, each on its own side, through the companion server. */
async function relayRoundTrips({ topology, pages, companion, rounds = 200 }) {
  const [a, b] = topology.sides;
  const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.chromium(b)]);
  const open = async (browser, side, id) => {
    const page = await browser.newPage();
    await page.goto(pages.url(side.serverIp));
    await page.evaluate((url) => new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      window.relaySocket = socket;
      socket.onmessage = (event) => {
        if (JSON.parse(event.data).type === 'OPEN') resolve();
      };
      socket.onerror = reject;
    }), `ws://${side.serverIp}:${companion.port}/peerjs/peerjs?key=peerjs&id=${id}&token=${token(id)}`);
    return page;
  };
  try {
    const alice = await open(browserA, a, 'relay-alice');
    const bob = await open(browserB, b, 'relay-bob');
    await bob.evaluate(() => {
      window.relaySocket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === 'RELAY') window.relaySocket.send(JSON.stringify({ type: 'RELAY', dst: message.src, payload: message.payload }));
      };
    });
    const times = await alice.evaluate((rounds) => new Promise((resolve) => {
      const times = [];
      let sentAt;
      const socket = window.relaySocket;
      const next = () => {
        if (times.length === rounds) return resolve(times);
        sentAt = performance.now();
        socket.send(JSON.stringify({ type: 'RELAY', dst: 'relay-bob', payload: { v: 2, kind: 'ack', n: times.length } }));
      };
      socket.onmessage = (event) => {
        if (JSON.parse(event.data).type !== 'RELAY') return;
        times.push(performance.now() - sentAt);
        // Paced under the relay's rate (20 a second after a burst of 200).
        setTimeout(next, 0);
      };
      next();
    }), rounds);
    return summary(times);
  } finally {
    await Promise.allSettled([browserA.close(), browserB.close()]);
  }
}

/** Frames of `type` relayed per second by one server process: `clients` senders, each `perClient` frames at once, to as many receivers. */
async function serverThroughput({ type, clients = 200, perClient = 200 }) {
  const server = await startCompanionServer({ options: { port: 0, host: '127.0.0.1' }, secret });
  const sockets = [];
  try {
    const register = (id) => new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=${id}&token=${token(id)}`, { perMessageDeflate: false });
      sockets.push(socket);
      socket.once('message', () => resolve(socket));
      socket.once('error', reject);
    });
    const senders = [];
    const receivers = [];
    for (let i = 0; i < clients; i++) {
      senders.push(await register(`s-${type}-${i}`));
      receivers.push(await register(`r-${type}-${i}`));
    }
    let received = 0;
    const total = clients * perClient;
    const done = new Promise((resolve) => {
      for (const receiver of receivers) receiver.on('message', (data) => {
        if (String(data).startsWith(`{"type":"${type}"`) && ++received === total) resolve();
      });
    });
    const payload = type === 'RELAY' ? { v: 2, kind: 'invite', invitationID: 'x'.repeat(40), data: 'y'.repeat(300) } : { type: 'data', connectionId: 'dc_x', sdp: { type: 'offer', sdp: 'v=0\r\n'.padEnd(1000, 'a') } };
    const started = performance.now();
    senders.forEach((sender, i) => {
      const frame = JSON.stringify({ type, dst: `r-${type}-${i}`, payload });
      for (let n = 0; n < perClient; n++) sender.send(frame);
    });
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`${type}: ${received} of ${total} within 60 s`)), 60_000))]);
    return { frames: total, perSecond: Math.round(total / ((performance.now() - started) / 1000)) };
  } finally {
    for (const socket of sockets) socket.terminate();
    await server.stop();
  }
}

const reason = topologyUnavailable();
if (reason) {
  console.error(`bench-reach: ${reason}`);
  process.exit(2);
}
const results = {};
const pages = await startPageServer();
try {
  {
    // Loopback, outside the client namespaces: the plugin's cold delivery beside raw PeerJS's connect + first message.
    const companion = await startCompanionServer({ options: { port: 0 }, secret });
    const browser = await puppeteer.launch({ executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', headless: true, args: ['--allow-loopback-in-peer-connection', ...CHROMIUM_ARGS] });
    try {
      results.loopbackRaw = await rawPeerJsFirstMessages({ browser, pages, companion });
      console.log('loopback raw PeerJS connect + first message', results.loopbackRaw);
      results.loopbackPlugin = await coldDeliveries({ browsers: [browser, browser], hosts: ['127.0.0.1', '127.0.0.1'], pages, companion, label: 'loop' });
      console.log('loopback plugin cold delivery', results.loopbackPlugin);
      results.loopbackRatio = Math.round((results.loopbackPlugin.median / results.loopbackRaw.median) * 100) / 100;
      console.log('plugin / raw (medians)', results.loopbackRatio);
    } finally {
      await browser.close().catch(() => {});
      await companion.stop();
    }
  }
  {
    const topology = await createTopology({ forwarding: true });
    const companion = await startCompanionServer({ options: { port: 0, relay: false }, secret });
    try {
      results.direct = await topologyColdDeliveries({ topology, pages, companion, label: 'direct' });
      console.log('direct', results.direct);
    } finally {
      await companion.stop();
      await topology.close();
    }
  }
  {
    const topology = await createTopology({ forwarding: false });
    const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
    const turn = await startTurnServer({ listeningIps: topology.serverIps, relayIp: topology.serverIps[0], port: 20_000 + Math.floor(Math.random() * 10_000), minPort, maxPort: minPort + 99 });
    // TURN from SERVER-INFO, relay off: what is not on the offer travels on the TURN channel.
    const turnCompanion = await startCompanionServer({ options: { port: 0, relay: false, turn: { urls: topology.serverIps.flatMap((ip) => turn.urls(ip)), secret: turn.secret, ttlSeconds: 600 } }, secret });
    const relayCompanion = await startCompanionServer({ options: { port: 0, relay: true }, secret });
    try {
      results.turn = await topologyColdDeliveries({ topology, pages, companion: turnCompanion, label: 'turn' });
      console.log('turn', results.turn);
      results.relay = await topologyColdDeliveries({ topology, pages, companion: relayCompanion, label: 'relay' });
      console.log('relay', results.relay);
      results.relayRoundTrip = await relayRoundTrips({ topology, pages, companion: relayCompanion });
      console.log('relay round trip', results.relayRoundTrip);
    } finally {
      await Promise.allSettled([turnCompanion.stop(), relayCompanion.stop()]);
      await turn.stop();
      await topology.close();
    }
  }
  results.serverRelay = await serverThroughput({ type: 'RELAY' });
  console.log('server RELAY', results.serverRelay);
  results.serverOffer = await serverThroughput({ type: 'OFFER' });
  console.log('server OFFER', results.serverOffer);
} finally {
  await pages.close();
}
console.log(JSON.stringify(results));
