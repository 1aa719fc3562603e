// Companion servers as one cluster over Redis: a real redis-server (no persistence) and three
// node processes on 127.0.0.1, driven by Node WebSocket clients speaking the PeerServer protocol
// (as scripts/bench-server.mjs does for one server). Bounded in count and time. Used by
// scripts/bench.mjs (section `cluster`); alone:
//   node scripts/bench-cluster.mjs   (run inside ../shared/netns-run; REDIS_SERVER_PATH, default /usr/bin/redis-server)
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { signToken } from '../dist/server/index.js';
import { CAPACITY_LIMITS } from './bench-server.mjs';
import { startCompanionServer } from './companion-server-process.mjs';
import { startRedisServer } from './redis-server-process.mjs';

const HOST = '127.0.0.1';
const PATH = '/peerjs';
const HEARTBEAT_MS = 5000;
const OFFER_SDP = 'v=0\r\n'.padEnd(1000, 'a');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A registered client: resolves once the server said OPEN (rejects on anything else).
 * `onMessage` sees every later message.
 */
function register({ port, secret, id, onMessage = () => {} }) {
  const token = signToken({ secret, userId: id, expiresInSeconds: 600 });
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${HOST}:${port}${PATH}/peerjs?key=peerjs&id=${id}&token=${token}`, { perMessageDeflate: false });
    let opened = false;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (opened) return onMessage(message);
      if (message.type !== 'OPEN') return reject(new Error(`cluster: ${id} got ${String(data)}`));
      opened = true;
      // A node killed under it resets the socket: the `close` that follows is what clients act on.
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Registers `ids` on `port`, `inFlight` handshakes at a time. */
async function registerAll({ port, secret, ids, inFlight, deadline, onMessage }) {
  const sockets = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      if (Date.now() > deadline) throw new Error('cluster: registrations ran past the time limit');
      const index = next++;
      sockets[index] = await register({ port, secret, id: ids[index], onMessage: onMessage && ((message) => onMessage(index, message)) });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return sockets;
}

const offer = (dst, n) => JSON.stringify({ type: 'OFFER', dst, payload: { sdp: { type: 'offer', sdp: OFFER_SDP }, type: 'data', connectionId: `dc_${n}`, label: `dc_${n}`, reliable: true, serialization: 'json' } });

/**
 * Round trips OFFER → ANSWER from a client on node a: to a client on node a (within one
 * node) and to one on node b (across nodes, through Redis both ways), interleaved.
 */
async function roundTrips({ a, b, secret, reps, warmup, deadline }) {
  let answered;
  const onMessage = (message) => answered?.(message);
  const asker = await register({ port: a.port, secret, id: 'rtt-asker', onMessage });
  const answerer = (socket) => (message) => {
    if (message.type === 'OFFER') socket.send(JSON.stringify({ type: 'ANSWER', dst: message.src, payload: { connectionId: message.payload.connectionId, sdp: { type: 'answer', sdp: OFFER_SDP } } }));
  };
  const sockets = [asker];
  // A message may come in the same turn as OPEN, before `await` hands the socket over: only OFFERs, sent later, need it.
  let local;
  let remote;
  local = await register({ port: a.port, secret, id: 'rtt-local', onMessage: (message) => local && answerer(local)(message) });
  remote = await register({ port: b.port, secret, id: 'rtt-remote', onMessage: (message) => remote && answerer(remote)(message) });
  sockets.push(local, remote);
  const once = (dst, n) =>
    new Promise((resolve, reject) => {
      const began = performance.now();
      const timer = setTimeout(() => reject(new Error(`cluster: no ANSWER from ${dst} within 5 s`)), 5000);
      answered = (message) => {
        if (message.type !== 'ANSWER' || message.payload?.connectionId !== `dc_${n}`) return;
        clearTimeout(timer);
        answered = undefined;
        resolve(performance.now() - began);
      };
      asker.send(offer(dst, n));
    });
  const samples = { within: [], across: [] };
  try {
    for (let rep = 0; rep < warmup + reps; rep++) {
      if (Date.now() > deadline) throw new Error('cluster: round trips ran past the time limit');
      // Alternate which goes first, so neither always follows the other.
      const order = rep % 2 ? ['across', 'within'] : ['within', 'across'];
      for (const kind of order) {
        const ms = await once(kind === 'within' ? 'rtt-local' : 'rtt-remote', `${kind}-${rep}`);
        if (rep >= warmup) samples[kind].push(ms);
      }
    }
    return samples;
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/** Offers per second from senders on node `from` to receivers on node `to`, `window` in flight per pair. */
async function relayRate({ from, to, secret, pairs, window, ms, tag, inFlight, deadline }) {
  const senders = await registerAll({ port: from.port, secret, ids: Array.from({ length: pairs }, (_, i) => `${tag}-from-${i}`), inFlight, deadline });
  let relayed = 0;
  let running = true;
  const receivers = await registerAll({
    port: to.port,
    secret,
    ids: Array.from({ length: pairs }, (_, i) => `${tag}-to-${i}`),
    inFlight,
    deadline,
    onMessage: (index) => {
      relayed++;
      if (running) senders[index].send(offer(`${tag}-to-${index}`, relayed));
    },
  });
  try {
    const began = performance.now();
    senders.forEach((sender, index) => {
      for (let n = 0; n < window; n++) sender.send(offer(`${tag}-to-${index}`, n));
    });
    await sleep(ms);
    running = false;
    return (relayed * 1000) / (performance.now() - began);
  } finally {
    for (const socket of [...senders, ...receivers]) socket.terminate();
  }
}

/**
 * `clients` registered on node `doomed`, which is killed with SIGKILL; each client, told by its
 * closed socket, registers again at once on node `to` with the same id and token, and a client on
 * node `watcherOn` sends it an OFFER as soon as it is back. Per client: ms from the kill to its
 * OPEN on `to`, and to that OFFER reaching it.
 */
async function failover({ doomed, to, watcherOn, secret, clients, inFlight, deadline }) {
  const ids = Array.from({ length: clients }, (_, i) => `failover-${i}`);
  const reached = new Array(clients);
  const reopened = new Array(clients);
  const sockets = [];
  let killedAt;
  const watcher = await register({ port: watcherOn.port, secret, id: 'failover-watcher' });
  sockets.push(watcher);
  const first = await registerAll({ port: doomed.port, secret, ids, inFlight, deadline });
  const done = new Promise((resolve, reject) => {
    let left = clients;
    const timer = setTimeout(() => reject(new Error(`cluster: ${left} of ${clients} clients not reachable 20 s after the kill`)), 20_000);
    first.forEach((socket, index) => {
      socket.once('close', async () => {
        try {
          const again = await register({
            port: to.port,
            secret,
            id: ids[index],
            onMessage: (message) => {
              if (message.type !== 'OFFER' || reached[index] !== undefined) return;
              reached[index] = performance.now() - killedAt;
              if (--left === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          });
          reopened[index] = performance.now() - killedAt;
          sockets.push(again);
          watcher.send(offer(ids[index], index));
        } catch (error) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  });
  try {
    killedAt = performance.now();
    await doomed.kill();
    await done;
    return { reopened, reached };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/**
 * Redis killed with SIGKILL and, `downMs` later, started again on its port, empty (no
 * persistence): ms from the new redis-server being ready to an OFFER from a client on node
 * `from`, sent at that moment, reaching a client on node `to`, in each of `reps` restarts.
 */
async function redisRestart({ redis, from, to, secret, reps, downMs }) {
  const samples = [];
  let arrived;
  const sender = await register({ port: from.port, secret, id: 'restart-sender' });
  const receiver = await register({ port: to.port, secret, id: 'restart-receiver', onMessage: (message) => message.type === 'OFFER' && arrived?.() });
  try {
    for (let rep = 0; rep < reps; rep++) {
      await redis.current.stop();
      await sleep(downMs);
      redis.current = await startRedisServer(redis.current.port);
      const began = performance.now();
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('cluster: no OFFER across nodes within 20 s of a Redis restart')), 20_000);
        arrived = () => {
          clearTimeout(timer);
          arrived = undefined;
          resolve();
        };
        sender.send(offer('restart-receiver', rep));
      });
      samples.push(performance.now() - began);
    }
    return samples;
  } finally {
    sender.terminate();
    receiver.terminate();
  }
}

function mib(bytes) {
  return bytes / 2 ** 20;
}

/**
 * Three nodes on one redis-server: round trips within a node against across nodes, offers
 * relayed per second across nodes (and within one, for scale), idle clients per node with
 * their memory, how long the clients of a node killed with SIGKILL take to be reachable
 * again on another node, and how long routing across nodes takes to come back after Redis restarts.
 */
export async function measureCluster({
  reps = 300,
  warmup = 20,
  pairs = 100,
  window = 8,
  relayMs = 5000,
  idlePerNode = 3000,
  failoverClients = 200,
  redisRestarts = 3,
  redisDownMs = 1000,
  inFlight = 100,
  timeLimitMs = 120_000,
  log = () => {},
} = {}) {
  const deadline = Date.now() + timeLimitMs;
  const secret = randomBytes(32).toString('base64url');
  // `current`: the restart figure replaces the process.
  const redis = { current: await startRedisServer() };
  const nodes = [];
  const sockets = [];
  const heartbeat = setInterval(() => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"HEARTBEAT"}');
  }, HEARTBEAT_MS);
  try {
    const options = { port: 0, host: HOST, path: PATH, redisUrl: redis.current.url, concurrentLimit: idlePerNode + 2 * pairs + failoverClients + 100, limits: CAPACITY_LIMITS };
    for (let n = 0; n < 3; n++) nodes.push(await startCompanionServer({ options, secret }));
    const [a, b, c] = nodes;

    // Idle clients on node a and node b, registered through the cluster's id registry.
    const settle = async (node) => {
      await sleep(2000);
      return (await node.memory()).memory;
    };
    const before = [await settle(a), await settle(b)];
    const registrations = [];
    for (const [index, node] of [a, b].entries()) {
      const ids = Array.from({ length: idlePerNode }, (_, i) => `idle-${index}-${i}`);
      const began = performance.now();
      sockets.push(...(await registerAll({ port: node.port, secret, ids, inFlight, deadline })));
      const elapsedMs = performance.now() - began;
      registrations.push({ count: ids.length, elapsedMs, perSecond: (ids.length * 1000) / elapsedMs });
    }
    const after = [await settle(a), await settle(b)];
    const memory = [a, b].map((_, index) => ({
      rssBefore: before[index].rss,
      rssAfter: after[index].rss,
      rssPerClientBytes: (after[index].rss - before[index].rss) / idlePerNode,
      heapPerClientBytes: (after[index].heapUsed - before[index].heapUsed) / idlePerNode,
    }));
    log(`cluster: ${idlePerNode} idle clients on each of 2 nodes, RSS ${memory.map((node) => `${mib(node.rssBefore).toFixed(1)} → ${mib(node.rssAfter).toFixed(1)} MiB`).join(', ')}; ${registrations.map((stage) => stage.perSecond.toFixed(0)).join(', ')} registrations/s`);
    // Closed before the traffic figures, so that those are not measured beside 10 s claim refreshes of thousands of ids.
    for (const socket of sockets.splice(0)) socket.terminate();
    await sleep(2000);

    const latency = await roundTrips({ a, b, secret, reps, warmup, deadline });
    const median = (samples) => [...samples].sort((x, y) => x - y)[Math.ceil(samples.length / 2) - 1];
    log(`cluster: OFFER→ANSWER round trip median ${median(latency.within).toFixed(2)} ms within a node, ${median(latency.across).toFixed(2)} ms across nodes`);

    const acrossPerSecond = await relayRate({ from: a, to: b, secret, pairs, window, ms: relayMs, tag: 'across', inFlight, deadline });
    const withinPerSecond = await relayRate({ from: a, to: a, secret, pairs, window, ms: relayMs, tag: 'within', inFlight, deadline });
    log(`cluster: ${acrossPerSecond.toFixed(0)} offers/s routed across nodes through Redis, ${withinPerSecond.toFixed(0)} within one node (${pairs} pairs, ${window} in flight each)`);

    const failed = await failover({ doomed: c, to: b, watcherOn: a, secret, clients: failoverClients, inFlight, deadline });
    log(`cluster: ${failoverClients} clients of a SIGKILLed node reachable on another within ${Math.max(...failed.reached).toFixed(0)} ms`);

    const restart = await redisRestart({ redis, from: a, to: b, secret, reps: redisRestarts, downMs: redisDownMs });
    log(`cluster: OFFER across nodes ${restart.map((ms) => ms.toFixed(0)).join(', ')} ms after Redis was restarted (empty)`);

    return {
      nodes: 3,
      roundTrip: { ...latency, reps, warmup },
      relay: { acrossPerSecond, withinPerSecond, pairs, window, ms: relayMs, payloadBytes: offer('across-to-0', 0).length },
      idle: { perNode: idlePerNode, nodes: 2, memory, registrations },
      failover: { clients: failoverClients, ...failed },
      redisRestart: { samples: restart, downMs: redisDownMs },
    };
  } finally {
    clearInterval(heartbeat);
    for (const socket of sockets) socket.terminate();
    for (const node of nodes) await node.stop();
    await redis.current.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureCluster({ log: console.log });
  const { within, across } = result.roundTrip;
  console.log(JSON.stringify({ ...result, roundTrip: { ...result.roundTrip, within: within.length, across: across.length } }, null, 2));
}
