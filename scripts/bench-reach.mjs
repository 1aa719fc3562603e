// Reach, measured (issue #17): inside ../shared/netns-run, in the topology of
// test/topology/topology.mjs (two client namespaces, Chromium in each, pages from the server side):
//   - cold delivery (send -> invitationReceived$ at a fresh invitee, no open connection) over
//     the direct path (forwarding on) and over TURN (forwarding off, coturn);
//   - a relayed message's round trip through the companion server, between the same two pages
//     (raw PeerServer-protocol WebSockets: the plugin's relay client is not on this branch);
//   - the server's cost: RELAY frames relayed per second by one process, beside OFFERs, from
//     raw Node clients on 127.0.0.1.
// Bounded: BENCH_REACH_ROUNDS (default 15) deliveries per path, 200 relay round trips, and
// 200 clients x 200 frames per server measure.   node scripts/bench-reach.mjs (after npm run build)
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { signToken, turnCredentials } from '../dist/server/index.js';
import { startPageServer } from '../test/topology/page-server.mjs';
import { createTopology, topologyUnavailable } from '../test/topology/topology.mjs';
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

async function openPlugin(browser, side, pages, companion, id, iceServers) {
  const page = await browser.newPage();
  await page.goto(pages.url(side.serverIp));
  await page.evaluate((id, options) => window.reach.connect(id, options), id, {
    peer: { host: side.serverIp, port: companion.port, path: '/peerjs', config: { iceServers } },
    token: token(id),
    storage: 'memory',
    tabs: false,
  });
  return page;
}

/** Cold deliveries: each round a fresh invitee id (a new plugin in page B), so no connection to it is open. */
async function coldDeliveries({ topology, pages, companion, iceServersFor, label }) {
  const [a, b] = topology.sides;
  const [browserA, browserB] = await Promise.all([topology.chromium(a), topology.chromium(b)]);
  try {
    const alice = await openPlugin(browserA, a, pages, companion, `${label}-alice`, iceServersFor(a, `${label}-alice`));
    const times = [];
    for (let round = 0; round < ROUNDS; round++) {
      const id = `${label}-bob-${round}`;
      const bob = await openPlugin(browserB, b, pages, companion, id, iceServersFor(b, id));
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
    return summary(times);
  } finally {
    await Promise.allSettled([browserA.close(), browserB.close()]);
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
    const topology = await createTopology({ forwarding: true });
    const companion = await startCompanionServer({ options: { port: 0 }, secret });
    try {
      results.direct = await coldDeliveries({ topology, pages, companion, iceServersFor: () => [], label: 'direct' });
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
    const companion = await startCompanionServer({ options: { port: 0 }, secret });
    try {
      const iceServersFor = (side, id) => {
        const { urls, username, credential } = turnCredentials({ secret: turn.secret, userId: id, ttlSeconds: 600, urls: turn.urls(side.serverIp) });
        return [{ urls, username, credential }];
      };
      results.turn = await coldDeliveries({ topology, pages, companion, iceServersFor, label: 'turn' });
      console.log('turn', results.turn);
      results.relayRoundTrip = await relayRoundTrips({ topology, pages, companion });
      console.log('relay round trip', results.relayRoundTrip);
    } finally {
      await companion.stop();
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
