// A cluster of companion servers across a restart of its redis-server (no persistence: the
// restarted Redis holds no claims): same-node traffic goes on meanwhile, and routing across
// nodes comes back as soon as the nodes reconnect, with what was sent meanwhile delivered.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { signToken } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { freePort, startRedisServer } from '../../scripts/redis-server-process.mjs';
import { within } from './raw-client.mjs';
import { skipWithoutRedis } from './redis.mjs';

const secret = randomBytes(32).toString('base64url');

/** A registered client; `next(type)` resolves with its next message of that type. */
function connect(port, id) {
  return new Promise((resolve, reject) => {
    const token = signToken({ secret, userId: id, expiresInSeconds: 60 });
    const socket = new WebSocket(`ws://127.0.0.1:${port}/peerjs/peerjs?key=peerjs&id=${id}&token=${token}`);
    const messages = [];
    const waiters = [];
    const settle = () => {
      for (const waiter of [...waiters]) {
        const index = messages.findIndex((message) => message.type === waiter.type);
        if (index < 0) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(messages.splice(index, 1)[0]);
      }
    };
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      // The companion server's SERVER-INFO (after OPEN) is not what these tests are about.
      if (message.type === 'SERVER-INFO') return;
      if (!socket.first) {
        socket.first = message;
        if (message.type !== 'OPEN') return reject(new Error(`${id} got ${String(data)}`));
        resolve({ socket, next: (type) => within(15_000, `${id} waiting for ${type}`, new Promise((done) => (waiters.push({ type, resolve: done }), settle()))) });
        return;
      }
      messages.push(message);
      settle();
    });
    socket.once('error', reject);
  });
}

const offer = (dst, connectionId) => JSON.stringify({ type: 'OFFER', dst, payload: { connectionId } });

describe('a cluster of companion servers across a Redis restart', { skip: skipWithoutRedis() }, () => {
  const nodes = [];
  const sockets = [];
  let redis;
  after(async () => {
    for (const socket of sockets) socket.terminate();
    for (const node of nodes) await node.kill();
    await redis?.stop();
  });

  it('keeps same-node traffic going while Redis is down, and routes across nodes again, with what was sent meanwhile, once it is back', { timeout: 30_000 }, async () => {
    const redisPort = await freePort();
    redis = await startRedisServer(redisPort);
    const options = { port: 0, host: '127.0.0.1', path: '/peerjs', redisUrl: `redis://127.0.0.1:${redisPort}` };
    for (let n = 0; n < 2; n++) nodes.push(await startCompanionServer({ options, secret }));
    const [a, b] = nodes;
    const alice = await connect(a.port, 'alice');
    const carol = await connect(a.port, 'carol');
    const bob = await connect(b.port, 'bob');
    sockets.push(alice.socket, carol.socket, bob.socket);

    await redis.stop();
    alice.socket.send(offer('carol', 'same-node'));
    assert.equal((await carol.next('OFFER')).payload.connectionId, 'same-node');

    // Restarted empty: no claim for bob anywhere until node b claims it again.
    redis = await startRedisServer(redisPort);
    alice.socket.send(offer('bob', 'sent-as-redis-came-back'));
    assert.deepEqual(await bob.next('OFFER'), { type: 'OFFER', src: 'alice', dst: 'bob', payload: { connectionId: 'sent-as-redis-came-back' } });
    alice.socket.send(offer('bob', 'after'));
    assert.equal((await bob.next('OFFER')).payload.connectionId, 'after');
    bob.socket.send(JSON.stringify({ type: 'ANSWER', dst: 'alice', payload: { connectionId: 'after' } }));
    assert.equal((await alice.next('ANSWER')).src, 'bob');
  });
});
