// How far one companion PeerServer goes: a load generator of Node WebSocket clients speaking
// the PeerJS server protocol (what PeerJS sends: the query of its WebSocket URL, HEARTBEAT every
// 5 s, OFFER to another id), against a real server process with tokens required, on 127.0.0.1.
// Bounded in count and time. Used by scripts/bench.mjs (section `capacity`); alone:
//   node scripts/bench-server.mjs   (env BENCH_CAPACITY_CLIENTS, default 10000; run inside ../shared/netns-run)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { signToken } from '../dist/server/index.js';
import { startCompanionServer } from './companion-server-process.mjs';

const HOST = '127.0.0.1';
const PATH = '/peerjs';
/** PeerJS's own heartbeat interval. */
const HEARTBEAT_MS = 5000;
/** An offer as PeerJS sends it, with an SDP of about the size Chromium writes for a data channel. */
const OFFER_SDP = 'v=0\r\n'.padEnd(1000, 'a');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Client limits far out of the way: this measures how far the server goes, with every load
 * client on one address and each sender far above an honest plugin's rate (section serverFlood
 * measures the limits themselves).
 */
const UNLIMITED = { perSecond: 1e9, burst: 1e9 };
export const CAPACITY_LIMITS = {
  handshakesPerIp: UNLIMITED,
  rates: { offer: UNLIMITED, answer: UNLIMITED, candidate: UNLIMITED, leave: UNLIMITED, heartbeat: UNLIMITED, register: UNLIMITED },
};

/**
 * Registers `ids` with at most `inFlight` handshakes at a time; resolves with the open sockets.
 * Each socket is told OPEN (or fails the run): the server held nothing back.
 */
async function registerAll({ port, secret, ids, inFlight, deadline }) {
  const sockets = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      if (Date.now() > deadline) throw new Error('capacity: registrations ran past the time limit');
      const index = next++;
      const token = signToken({ secret, userId: ids[index], expiresInSeconds: 600 });
      sockets[index] = await new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://${HOST}:${port}${PATH}/peerjs?key=peerjs&id=${ids[index]}&token=${token}`, { perMessageDeflate: false });
        socket.once('message', (data) => {
          const message = JSON.parse(String(data));
          if (message.type === 'OPEN') resolve(socket);
          else reject(new Error(`capacity: ${ids[index]} got ${String(data)}`));
        });
        socket.once('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return sockets;
}

function mib(bytes) {
  return bytes / 2 ** 20;
}

/**
 * Idle clients (memory and CPU), registrations per second, offers relayed per second.
 * `stages`: client counts at which memory is read; the last is how many idle clients are held.
 */
export async function measureCapacity({ stages = [2500, 10_000], pairs = 200, relayMs = 8000, idleMs = 10_000, inFlight = 200, timeLimitMs = 120_000, log = () => {} } = {}) {
  const deadline = Date.now() + timeLimitMs;
  const secret = randomBytes(32).toString('base64url');
  const total = stages.at(-1);
  const server = await startCompanionServer({
    options: { port: 0, host: HOST, path: PATH, concurrentLimit: total + 2 * pairs + 100, limits: CAPACITY_LIMITS },
    secret,
  });
  const sockets = [];
  const heartbeat = setInterval(() => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"HEARTBEAT"}');
  }, HEARTBEAT_MS);
  try {
    const settle = async () => {
      await sleep(2000);
      return server.memory();
    };
    const empty = await settle();
    const memory = [{ clients: 0, rss: empty.memory.rss, heapUsed: empty.memory.heapUsed }];
    const registrations = [];
    let registered = 0;
    for (const count of stages) {
      const ids = Array.from({ length: count - registered }, (_, index) => `load-${registered + index}`);
      const began = performance.now();
      sockets.push(...(await registerAll({ port: server.port, secret, ids, inFlight, deadline })));
      const elapsedMs = performance.now() - began;
      registrations.push({ count: ids.length, elapsedMs, perSecond: (ids.length * 1000) / elapsedMs });
      registered = count;
      const reading = await settle();
      memory.push({ clients: count, rss: reading.memory.rss, heapUsed: reading.memory.heapUsed });
      log(`capacity: ${count} idle clients, server RSS ${mib(reading.memory.rss).toFixed(1)} MiB, ${registrations.at(-1).perSecond.toFixed(0)} registrations/s`);
    }

    // CPU of the server with every client idle but heartbeating.
    const cpuBefore = (await server.memory()).cpu;
    const idleStart = performance.now();
    await sleep(idleMs);
    const cpuAfter = (await server.memory()).cpu;
    const idleCpuShare = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000 / (performance.now() - idleStart);

    // Offers relayed: each sender keeps `window` offers in flight to its partner.
    const senders = await registerAll({ port: server.port, secret, ids: Array.from({ length: pairs }, (_, i) => `offer-from-${i}`), inFlight, deadline });
    const receivers = await registerAll({ port: server.port, secret, ids: Array.from({ length: pairs }, (_, i) => `offer-to-${i}`), inFlight, deadline });
    sockets.push(...senders, ...receivers);
    const window = 8;
    let relayed = 0;
    let running = true;
    const offer = (to, n) => JSON.stringify({ type: 'OFFER', dst: to, payload: { sdp: { type: 'offer', sdp: OFFER_SDP }, type: 'data', connectionId: `dc_${n}`, label: `dc_${n}`, reliable: true, serialization: 'json' } });
    receivers.forEach((receiver, index) => {
      receiver.on('message', () => {
        relayed++;
        if (running) senders[index].send(offer(`offer-to-${index}`, relayed));
      });
    });
    const relayStart = performance.now();
    senders.forEach((sender, index) => {
      for (let n = 0; n < window; n++) sender.send(offer(`offer-to-${index}`, n));
    });
    await sleep(relayMs);
    running = false;
    const relayedPerSecond = (relayed * 1000) / (performance.now() - relayStart);
    log(`capacity: ${relayedPerSecond.toFixed(0)} offers relayed/s (${pairs} pairs, ${window} in flight each)`);

    const first = memory[1];
    const last = memory.at(-1);
    return {
      clients: total,
      memory,
      rssPerClientBytes: (last.rss - first.rss) / (last.clients - first.clients),
      heapPerClientBytes: (last.heapUsed - first.heapUsed) / (last.clients - first.clients),
      registrations,
      idleCpuShare,
      relayedPerSecond,
      relay: { pairs, window, payloadBytes: offer('offer-to-0', 0).length, ms: relayMs },
      secretRequired: true,
    };
  } finally {
    clearInterval(heartbeat);
    for (const socket of sockets) socket?.terminate();
    await server.stop();
  }
}

/** The resident set size of process `pid`, in bytes, read from /proc. */
function rssOf(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

/**
 * Section `serverFlood`: the honest OFFER → ANSWER round trip between two clients of one server
 * (default limits, tokens required), without and during a flood from `attackers` registered
 * clients, each sending OFFERs as fast as it can (half to the honest receiver, half of 8 KB for
 * ids that never register) and registering again whenever it is cut off. Bounded by `floodMs`.
 */
export async function measureServerFlood({ attackers = 10, reps = 100, floodMs = 10_000, log = () => {} } = {}) {
  const secret = randomBytes(32).toString('base64url');
  const server = await startCompanionServer({ options: { port: 0, host: HOST, path: PATH }, secret });
  const sockets = new Set();
  const open = (id) => {
    const token = signToken({ secret, userId: id, expiresInSeconds: 600 });
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${HOST}:${server.port}${PATH}/peerjs?key=peerjs&id=${id}&token=${token}`, { perMessageDeflate: false });
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.once('message', (data) => resolve({ socket, first: JSON.parse(String(data)) }));
      socket.once('error', reject);
    });
  };
  try {
    const alice = (await open('honest-alice')).socket;
    const bob = (await open('honest-bob')).socket;
    let floodReached = 0;
    const pending = new Map();
    bob.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.src?.startsWith('flood-')) floodReached++;
      else if (message.type === 'OFFER') bob.send(JSON.stringify({ type: 'ANSWER', dst: message.src, payload: { connectionId: message.payload.connectionId } }));
    });
    alice.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'ANSWER') pending.get(message.payload.connectionId)?.();
    });
    const roundTrips = async (tag, count) => {
      const samples = [];
      for (let n = 0; n < count; n++) {
        const connectionId = `${tag}-${n}`;
        const began = performance.now();
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`serverFlood: no ANSWER for ${connectionId} within 10 s`)), 10_000);
          pending.set(connectionId, () => {
            clearTimeout(timer);
            resolve();
          });
          alice.send(JSON.stringify({ type: 'OFFER', dst: 'honest-bob', payload: { connectionId, sdp: { type: 'offer', sdp: OFFER_SDP } } }));
        });
        pending.delete(connectionId);
        samples.push(performance.now() - began);
      }
      return samples;
    };
    await roundTrips('warmup', 10);
    const quiet = await roundTrips('quiet', reps);
    await server.collectGarbage();
    const rssBefore = rssOf(server.pid);

    let running = true;
    const counts = { sent: 0, registrations: 0, refusedRegistrations: 0, cutOffs: 0 };
    const filler = 'x'.repeat(8000);
    const attacker = async (index) => {
      const id = `flood-${index}`;
      while (running) {
        counts.registrations++;
        const { socket, first } = await open(id).catch(() => ({ first: { type: 'FAILED' } }));
        if (first.type !== 'OPEN') {
          counts.refusedRegistrations++;
          socket?.terminate();
          await sleep(500);
          continue;
        }
        let closed = false;
        socket.once('close', () => (closed = true));
        while (running && !closed) {
          for (let n = 0; n < 100; n++) {
            const toVictim = n % 2 === 0;
            socket.send(JSON.stringify({ type: 'OFFER', dst: toVictim ? 'honest-bob' : `absent-${index}-${counts.sent % 1000}`, payload: { connectionId: `f${counts.sent}`, sdp: toVictim ? 'v=0' : filler } }));
            counts.sent++;
          }
          await sleep(10);
        }
        if (closed) counts.cutOffs++;
        socket.terminate();
      }
    };
    const flood = Array.from({ length: attackers }, (_, index) => attacker(index));
    await sleep(500);
    const during = await roundTrips('flood', reps);
    const left = floodMs - 500;
    if (left > 0) await sleep(left);
    running = false;
    await Promise.all(flood);
    await server.collectGarbage();
    const rssAfter = rssOf(server.pid);
    log(`serverFlood: ${counts.sent} attacker OFFERs sent, ${floodReached} reached the honest receiver; server RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB`);
    return { attackers, floodMs, quiet, during, rssBefore, rssAfter, floodReached, ...counts };
  } finally {
    for (const socket of sockets) socket.terminate();
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const clients = Number(process.env.BENCH_CAPACITY_CLIENTS ?? 10_000);
  const result = await measureCapacity({ stages: [Math.min(2500, clients / 2), clients], log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
