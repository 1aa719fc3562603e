// startPeerServer({ redisUrl }): companion servers as one cluster, with a real redis-server
// (no persistence) and each server in its own Node process, on 127.0.0.1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { signToken } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { freePort, startRedisServer } from '../../scripts/redis-server-process.mjs';
import { within } from './raw-client.mjs';
import { skipWithoutRedis } from './redis.mjs';

const secret = randomBytes(32).toString('base64url');
const token = (userId) => signToken({ secret, userId, expiresInSeconds: 60 });

/** A client speaking the PeerServer protocol: the first server message, then every later one in `messages`. */
function connect(port, id, clientToken = token(id)) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/peerjs/peerjs?key=peerjs&id=${id}&token=${clientToken}`);
    const messages = [];
    let waiter;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      // The companion server's SERVER-INFO (after OPEN) is not what these tests are about.
      if (message.type === 'SERVER-INFO') return;
      if (!socket.first) {
        socket.first = message;
        const next = () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((done) => (waiter = done)));
        resolve({ first: message, socket, messages, next: () => within(15_000, `${id} waiting for a message`, next()) });
        return;
      }
      if (waiter) {
        const done = waiter;
        waiter = undefined;
        done(message);
      } else messages.push(message);
    });
    socket.once('error', reject);
  });
}

/** Retries `attempt` until it returns true, for at most `ms` (for effects with no event to await, like a release in Redis). */
async function eventually(attempt, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await attempt()) return;
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function registersOn(port, id) {
  const client = await connect(port, id);
  client.socket.terminate();
  return client.first.type === 'OPEN';
}

describe('a cluster of companion servers over Redis', { skip: skipWithoutRedis() }, () => {
  let redis;
  let redisPort;
  const nodes = [];
  const sockets = [];

  const node = async (options = {}) => {
    const started = await startCompanionServer({ options: { port: 0, host: '127.0.0.1', path: '/peerjs', redisUrl: `redis://127.0.0.1:${redisPort}`, ...options }, secret });
    nodes.push(started);
    return started;
  };
  const client = async (port, id, clientToken) => {
    const opened = await connect(port, id, clientToken);
    sockets.push(opened.socket);
    return opened;
  };

  before(async () => {
    redisPort = await freePort();
    redis = await startRedisServer(redisPort);
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    for (const started of nodes) await started.kill();
    await redis?.stop();
  });

  it('lets one client hold an id across all nodes', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const alice = await client(a.port, 'alice');
    assert.deepEqual(alice.first, { type: 'OPEN' });
    assert.equal((await client(b.port, 'alice')).first.type, 'ID-TAKEN');
    assert.equal((await client(a.port, 'alice')).first.type, 'ID-TAKEN');
    // Still the token check first: no claim without a valid token.
    assert.deepEqual((await client(b.port, 'bob', 'forged')).first, { type: 'ERROR', payload: { msg: 'UNAUTHORIZED: no valid token for this id' } });
  });

  it('lets exactly one of many simultaneous registrations of one id through, across nodes', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, index) => client(index % 2 ? a.port : b.port, 'zoe')));
    const answers = attempts.map(({ first }) => first.type).sort();
    assert.deepEqual(answers, [...Array(19).fill('ID-TAKEN'), 'OPEN']);
  });

  it('relays offers, answers and candidates between nodes, with src set by the server', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const carol = await client(a.port, 'carol');
    const dave = await client(b.port, 'dave');
    carol.socket.send(JSON.stringify({ type: 'OFFER', src: 'mallory', dst: 'dave', payload: { connectionId: 'dc_1', sdp: 'offer' } }));
    carol.socket.send(JSON.stringify({ type: 'CANDIDATE', dst: 'dave', payload: { connectionId: 'dc_1', candidate: 1 } }));
    assert.deepEqual(await dave.next(), { type: 'OFFER', src: 'carol', dst: 'dave', payload: { connectionId: 'dc_1', sdp: 'offer' } });
    assert.deepEqual(await dave.next(), { type: 'CANDIDATE', src: 'carol', dst: 'dave', payload: { connectionId: 'dc_1', candidate: 1 } });
    dave.socket.send(JSON.stringify({ type: 'ANSWER', dst: 'carol', payload: { connectionId: 'dc_1', sdp: 'answer' } }));
    assert.deepEqual(await carol.next(), { type: 'ANSWER', src: 'dave', dst: 'carol', payload: { connectionId: 'dc_1', sdp: 'answer' } });
  });

  it('keeps messages for an offline id, and hands them over on whichever node it registers', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const judy = await client(a.port, 'judy');
    const mike = await client(b.port, 'mike');
    judy.socket.send(JSON.stringify({ type: 'OFFER', dst: 'kate', payload: { connectionId: 'dc_2', sdp: 'offer' } }));
    judy.socket.send(JSON.stringify({ type: 'CANDIDATE', dst: 'kate', payload: { connectionId: 'dc_2', candidate: 1 } }));
    // Routed in order after them: once mike has it, kate's two wait on node a.
    judy.socket.send(JSON.stringify({ type: 'OFFER', dst: 'mike', payload: { connectionId: 'marker' } }));
    assert.equal((await mike.next()).payload.connectionId, 'marker');
    const kate = await client(b.port, 'kate');
    assert.deepEqual(kate.first, { type: 'OPEN' });
    assert.deepEqual(await kate.next(), { type: 'OFFER', src: 'judy', dst: 'kate', payload: { connectionId: 'dc_2', sdp: 'offer' } });
    assert.deepEqual(await kate.next(), { type: 'CANDIDATE', src: 'judy', dst: 'kate', payload: { connectionId: 'dc_2', candidate: 1 } });
  });

  it('expires a kept offer after expireTimeoutMs with an EXPIRE to its sender', { timeout: 30_000 }, async () => {
    const a = await node({ expireTimeoutMs: 1000 });
    const leo = await client(a.port, 'leo');
    const sent = Date.now();
    leo.socket.send(JSON.stringify({ type: 'OFFER', dst: 'nobody-here', payload: { connectionId: 'dc_3', sdp: 'offer' } }));
    assert.deepEqual(await leo.next(), { type: 'EXPIRE', src: 'nobody-here', dst: 'leo' });
    assert.ok(Date.now() - sent >= 1000);
  });

  it('releases an id when its client leaves, and all of a node\'s ids on SIGTERM', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const erin = await client(a.port, 'erin');
    erin.socket.close();
    await eventually(() => registersOn(b.port, 'erin'));

    await client(a.port, 'frank');
    await client(a.port, 'gina');
    await a.stop(); // SIGTERM
    assert.equal(await registersOn(b.port, 'frank'), true);
    assert.equal(await registersOn(b.port, 'gina'), true);
  });

  it('frees the ids of a node that died without closing at once, and keeps what was sent to them', { timeout: 30_000 }, async () => {
    const [a, b] = [await node(), await node()];
    await client(a.port, 'nina');
    await client(a.port, 'quinn');
    await a.kill(); // SIGKILL: nothing released, the claims stay in Redis
    // A registration finds the claim's node gone and takes the id, without waiting for its 30 s TTL.
    assert.equal((await client(b.port, 'nina')).first.type, 'OPEN');
    // A message for an id of the dead node is kept, and handed over when the id registers again.
    const omar = await client(b.port, 'omar');
    const pia = await client(b.port, 'pia');
    omar.socket.send(JSON.stringify({ type: 'OFFER', dst: 'quinn', payload: { connectionId: 'dc_4', sdp: 'offer' } }));
    omar.socket.send(JSON.stringify({ type: 'OFFER', dst: 'pia', payload: { connectionId: 'marker' } }));
    assert.equal((await pia.next()).payload.connectionId, 'marker');
    const quinn = await client(b.port, 'quinn');
    assert.equal(quinn.first.type, 'OPEN');
    assert.deepEqual(await quinn.next(), { type: 'OFFER', src: 'omar', dst: 'quinn', payload: { connectionId: 'dc_4', sdp: 'offer' } });
  });

  it('refuses new registrations while Redis is down, and takes them again when it is back', { timeout: 30_000 }, async () => {
    const a = await node();
    const hana = await client(a.port, 'hana');
    assert.equal(hana.first.type, 'OPEN');
    await redis.stop();
    try {
      assert.deepEqual((await client(a.port, 'ivan')).first, { type: 'ERROR', payload: { msg: 'SERVER_UNAVAILABLE: the id registry cannot be reached' } });
      // Already registered: still connected.
      assert.equal(hana.socket.readyState, WebSocket.OPEN);
    } finally {
      redis = await startRedisServer(redisPort);
    }
    await eventually(() => registersOn(a.port, 'ivan'), 10_000);
  });
});
