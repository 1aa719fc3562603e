// The companion server's reach features, in Node, with raw WebSocket clients speaking the
// PeerServer protocol: SERVER-INFO with TURN credentials (checked against a real coturn), and
// the relay (attribution, size, rate, off, an offline id, two cluster nodes on a real Redis).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { generateVapidKeys, signToken, startPeerServer, turnCredentials } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { freePort, startRedisServer } from '../../scripts/redis-server-process.mjs';
import { startTurnServer } from '../../scripts/turn-server-process.mjs';
import { allocate } from '../topology/turn-client.mjs';

const secret = randomBytes(32).toString('base64url');
const token = (userId) => signToken({ secret, userId, expiresInSeconds: 60 });
const TIMEOUT = { timeout: 30_000 };
const TURN_SERVER = process.env.TURN_SERVER_PATH || '/usr/bin/turnserver';
const REDIS_SERVER = process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server';
const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));

/** A registered client: `next(type)` resolves with the next message of that type (10 s at most); `send(message)`. */
function client(port, id, clientToken = token(id)) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/peerjs/peerjs?key=peerjs&id=${id}&token=${clientToken}`);
    const inbox = [];
    const waiters = [];
    const settle = () => {
      for (const waiter of [...waiters]) {
        const index = inbox.findIndex((message) => message.type === waiter.type);
        if (index === -1) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        waiter.resolve(inbox.splice(index, 1)[0]);
      }
    };
    const api = {
      id,
      socket,
      inbox,
      send: (message) => socket.send(JSON.stringify(message)),
      next: (type, ms = 10_000) =>
        new Promise((done, fail) => {
          const timer = setTimeout(() => fail(new Error(`${id}: no ${type} within ${ms} ms; got ${JSON.stringify(inbox.map((m) => m.type))}`)), ms);
          waiters.push({ type, resolve: done, timer });
          settle();
        }),
      close: () => socket.terminate(),
    };
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (!socket.first) {
        socket.first = message;
        if (message.type !== 'OPEN') reject(new Error(`${id} got ${String(data)}`));
        else resolve(api);
        return;
      }
      inbox.push(message);
      settle();
    });
    socket.once('error', reject);
  });
}

/** A protocol message as the plugin would write it (the server reads it only as "an object"). A RELAY to oneself marks that the frames before it were read. */
const invite = (n) => ({ v: 2, kind: 'invite', invitationID: `i-${n}` });

describe('TURN credentials', () => {
  it('are the TURN REST form: "<expiry>:<user>", base64(HMAC-SHA1(secret, username))', TIMEOUT, () => {
    const now = Date.UTC(2030, 0, 1);
    const credentials = turnCredentials({ secret: 'shared', userId: 'alice', ttlSeconds: 600, urls: 'turn:127.0.0.1:3478', now });
    assert.equal(credentials.username, `${now / 1000 + 600}:alice`);
    assert.equal(credentials.credential, createHmac('sha1', 'shared').update(credentials.username).digest('base64'));
    assert.deepEqual(credentials.urls, ['turn:127.0.0.1:3478']);
    assert.equal(credentials.expiresAt, now + 600_000);
    assert.throws(() => turnCredentials({ secret: '', userId: 'a', ttlSeconds: 1, urls: 'turn:x' }), TypeError);
    assert.throws(() => turnCredentials({ secret: 's', userId: 'a', ttlSeconds: 0, urls: 'turn:x' }), TypeError);
    assert.throws(() => turnCredentials({ secret: 's', userId: 'a', ttlSeconds: 1, urls: 'stun:x' }), TypeError);
  });

  describe('with a real coturn', { skip: !existsSync(TURN_SERVER) && `no ${TURN_SERVER}` }, () => {
    let turn;
    before(async () => {
      const port = 20_000 + Math.floor(Math.random() * 10_000);
      const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
      turn = await startTurnServer({ listeningIps: ['127.0.0.1'], port, minPort, maxPort: minPort + 99 });
    });
    after(() => turn?.stop());

    it('allocates a relayed address with the credentials the server hands out, refuses forged or expired ones', TIMEOUT, async () => {
      const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, turn: { urls: turn.urls('127.0.0.1'), secret: turn.secret, ttlSeconds: 600 } });
      const alice = await client(server.port, 'alice');
      try {
        const { payload } = await alice.next('SERVER-INFO');
        assert.equal(payload.relay, true);
        const [ice] = payload.iceServers;
        assert.deepEqual(ice.urls, turn.urls('127.0.0.1'));
        assert.match(ice.username, /^\d+:alice$/);
        assert.equal(payload.iceServersExpireAt, Number(ice.username.split(':')[0]) * 1000);
        const granted = await allocate({ host: '127.0.0.1', port: turn.port, username: ice.username, credential: ice.credential });
        assert.equal(granted.ok, true, JSON.stringify(granted));
        assert.match(granted.relayed, /^127\.0\.0\.1:\d+$/);
        const forged = await allocate({ host: '127.0.0.1', port: turn.port, username: ice.username.replace('alice', 'mallory'), credential: ice.credential });
        assert.deepEqual(forged, { ok: false, code: 401 });
        const old = turnCredentials({ secret: turn.secret, userId: 'alice', ttlSeconds: 60, urls: turn.urls(), now: Date.now() - 120_000 });
        assert.deepEqual(await allocate({ host: '127.0.0.1', port: turn.port, username: old.username, credential: old.credential }), { ok: false, code: 401 });
      } finally {
        alice.close();
        await server.close();
      }
    });
  });
});

describe('SERVER-INFO', () => {
  it('follows OPEN at once, before offers that waited; without TURN it says only whether the relay is on', TIMEOUT, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret });
    const sockets = [];
    try {
      const carol = await client(server.port, 'carol');
      sockets.push(carol);
      carol.send({ type: 'OFFER', dst: 'dave', payload: { connectionId: 'c1' } });
      carol.send({ type: 'RELAY', dst: 'carol', payload: invite(0) });
      await carol.next('RELAY'); // the offer before it has been read
      const frames = await new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=dave&token=${token('dave')}`);
        sockets.push({ close: () => socket.terminate() });
        const seen = [];
        socket.on('message', (data) => {
          seen.push(JSON.parse(String(data)));
          if (seen.length === 3) resolve(seen);
        });
        socket.once('error', reject);
      });
      assert.deepEqual(frames.map(({ type }) => type), ['OPEN', 'SERVER-INFO', 'OFFER']);
      assert.deepEqual(frames[1].payload, { relay: true });
    } finally {
      for (const socket of sockets) socket.close();
      await server.close();
    }
  });

  it('comes again with fresh credentials before they expire, and stops when the client leaves', TIMEOUT, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, relay: false, turn: { urls: ['turn:10.0.0.1:3478'], secret: 'turn-secret', ttlSeconds: 2 } });
    try {
      const erin = await client(server.port, 'erin');
      const first = (await erin.next('SERVER-INFO')).payload;
      assert.equal(first.relay, false);
      const second = (await erin.next('SERVER-INFO', 5000)).payload;
      assert.ok(second.iceServersExpireAt > first.iceServersExpireAt);
      assert.ok(Date.now() < first.iceServersExpireAt, 'renewed before the first expired');
      assert.notEqual(second.iceServers[0].credential, first.iceServers[0].credential);
      erin.close();
    } finally {
      await server.close();
    }
  });

  it('is one message with every part: the relay, TURN credentials and the push key, renewed whole', TIMEOUT, async () => {
    const vapidKeys = generateVapidKeys();
    const server = await startPeerServer({
      port: 0,
      host: '127.0.0.1',
      secret,
      turn: { urls: ['turn:10.0.0.1:3478'], secret: 'turn-secret', ttlSeconds: 2 },
      push: { vapidKeys, subject: 'mailto:ops@example.com' },
    });
    try {
      const fay = await client(server.port, 'fay');
      const first = (await fay.next('SERVER-INFO')).payload;
      assert.deepEqual(Object.keys(first).sort(), ['iceServers', 'iceServersExpireAt', 'push', 'relay']);
      assert.equal(first.relay, true);
      assert.deepEqual(first.push, { publicKey: vapidKeys.publicKey });
      assert.equal(first.iceServers.length, 1);
      assert.deepEqual(first.iceServers[0].urls, ['turn:10.0.0.1:3478']);
      assert.match(first.iceServers[0].username, /^\d+:fay$/);
      const second = (await fay.next('SERVER-INFO', 5000)).payload;
      assert.ok(second.iceServersExpireAt > first.iceServersExpireAt);
      assert.deepEqual(second.push, first.push);
      assert.equal(second.relay, true);
      fay.close();
    } finally {
      await server.close();
    }
  });
});

describe('the relay on one server', () => {
  let server;
  const clients = [];
  const join = async (id, clientToken) => {
    const joined = await client(server.port, id, clientToken);
    clients.push(joined);
    return joined;
  };
  before(async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, expireTimeoutMs: 3000 });
  });
  after(async () => {
    for (const joined of clients) joined.close();
    await server.close();
  });

  it('delivers to the registered id with src set from the sender\'s socket, whatever the frame says', TIMEOUT, async () => {
    const alice = await join('r-alice');
    const bob = await join('r-bob');
    alice.send({ type: 'RELAY', src: 'r-mallory', dst: 'r-bob', payload: invite(1) });
    assert.deepEqual(await bob.next('RELAY'), { type: 'RELAY', src: 'r-alice', dst: 'r-bob', payload: invite(1) });
  });

  it('takes nothing from a socket whose id did not register (a forged token), nor a frame that is not a relay of an object', TIMEOUT, async () => {
    const bob = await join('f-bob');
    const forged = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=f-alice&token=forged`);
    await new Promise((resolve) => forged.once('open', resolve));
    forged.send(JSON.stringify({ type: 'RELAY', dst: 'f-bob', payload: invite(2) }));
    await new Promise((resolve) => forged.once('close', resolve));
    const alice = await join('f-alice');
    alice.send({ type: 'RELAY', dst: 'f-bob', payload: 'a string' });
    alice.send({ type: 'RELAY', dst: 'f-bob', payload: [1, 2] });
    alice.send({ type: 'RELAY', dst: 42, payload: invite(3) });
    alice.send({ type: 'RELAY', dst: 'f-bob', payload: invite(4) });
    assert.deepEqual((await bob.next('RELAY')).payload, invite(4));
    assert.deepEqual(bob.inbox.filter(({ type }) => type === 'RELAY'), []);
  });

  it('refuses a frame over 16,000 + 200 bytes with RELAY-REFUSED size, and carries one of 16,000 bytes of payload', TIMEOUT, async () => {
    const alice = await join('s-alice');
    const bob = await join('s-bob');
    const sized = (bytes) => {
      const payload = { v: 2, kind: 'invite', pad: '' };
      payload.pad = 'x'.repeat(bytes - JSON.stringify(payload).length);
      return payload;
    };
    alice.send({ type: 'RELAY', dst: 's-bob', payload: sized(16_200) });
    assert.deepEqual(await alice.next('RELAY-REFUSED'), { type: 'RELAY-REFUSED', dst: 's-bob', payload: { reason: 'size' } });
    alice.send({ type: 'RELAY', dst: 's-bob', payload: sized(16_000) });
    assert.equal(JSON.stringify((await bob.next('RELAY')).payload).length, 16_000);
  });

  it('refuses beyond the rate per client (burst 500, then 50 a second) with RELAY-REFUSED rate, and other clients still relay', TIMEOUT, async () => {
    const alice = await join('q-alice');
    const bob = await join('q-bob');
    const carol = await join('q-carol');
    for (let n = 0; n < 600; n++) alice.send({ type: 'RELAY', dst: 'q-bob', payload: invite(n) });
    const refusal = await alice.next('RELAY-REFUSED');
    assert.deepEqual(refusal.payload, { reason: 'rate' });
    carol.send({ type: 'RELAY', dst: 'q-bob', payload: invite('carol') });
    let fromAlice = 0;
    for (;;) {
      const { src } = await bob.next('RELAY');
      if (src === 'q-carol') break;
      fromAlice++;
    }
    // What got through: the burst, and what the bucket refilled meanwhile (at 50 a second).
    assert.ok(fromAlice <= 600 && fromAlice >= 500, `${fromAlice} from alice`);
  });

  it('keeps a relayed message for an offline id and hands it over, in order, when the id registers', TIMEOUT, async () => {
    const alice = await join('o-alice');
    alice.send({ type: 'RELAY', dst: 'o-bob', payload: invite('first') });
    alice.send({ type: 'RELAY', dst: 'o-bob', payload: invite('second') });
    alice.send({ type: 'RELAY', dst: 'o-alice', payload: invite('marker') });
    await alice.next('RELAY');
    const bob = await join('o-bob');
    assert.deepEqual((await bob.next('RELAY')).payload, invite('first'));
    assert.deepEqual((await bob.next('RELAY')).payload, invite('second'));
    assert.equal(alice.inbox.some(({ type }) => type === 'RELAY-REFUSED'), false);
  });

  it('lets a kept message go after expireTimeoutMs, like an offer', TIMEOUT, async () => {
    const alice = await join('e-alice');
    alice.send({ type: 'RELAY', dst: 'e-bob', payload: invite('stale') });
    alice.send({ type: 'RELAY', dst: 'e-alice', payload: invite('marker') });
    await alice.next('RELAY');
    await new Promise((resolve) => setTimeout(resolve, 4500)); // past expireTimeoutMs (3 s) + the 1 s sweep
    const bob = await join('e-bob');
    alice.send({ type: 'RELAY', dst: 'e-bob', payload: invite('fresh') });
    assert.deepEqual((await bob.next('RELAY')).payload, invite('fresh'));
  });
});

describe('relay: false', () => {
  it('refuses every relay with RELAY-REFUSED off, and says so in SERVER-INFO', TIMEOUT, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, relay: false });
    const alice = await client(server.port, 'n-alice');
    const bob = await client(server.port, 'n-bob');
    try {
      assert.deepEqual((await alice.next('SERVER-INFO')).payload, { relay: false });
      alice.send({ type: 'RELAY', dst: 'n-bob', payload: invite(1) });
      assert.deepEqual(await alice.next('RELAY-REFUSED'), { type: 'RELAY-REFUSED', dst: 'n-bob', payload: { reason: 'off' } });
      assert.equal(bob.inbox.some(({ type }) => type === 'RELAY'), false);
    } finally {
      alice.close();
      bob.close();
      await server.close();
    }
  });
});

describe('the command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reach-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--turn-url (twice), --turn-secret-file and --no-relay reach SERVER-INFO', TIMEOUT, async () => {
    writeFileSync(join(dir, 'secret'), secret);
    writeFileSync(join(dir, 'turn-secret'), 'the-turn-secret\n');
    const child = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--secret-file', join(dir, 'secret'), '--turn-url', 'turn:10.0.0.1:3478?transport=udp',
      '--turn-url', 'turns:turn.example.com:443?transport=tcp', '--turn-secret-file', join(dir, 'turn-secret'), '--no-relay'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const port = await new Promise((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (data) => {
          output += data;
          const found = /listening on port (\d+)/.exec(output);
          if (found) resolve(Number(found[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const alice = await client(port, 'alice');
      const { payload } = await alice.next('SERVER-INFO');
      alice.close();
      assert.equal(payload.relay, false);
      assert.deepEqual(payload.iceServers[0].urls, ['turn:10.0.0.1:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp']);
      assert.equal(payload.iceServers[0].credential, createHmac('sha1', 'the-turn-secret').update(payload.iceServers[0].username).digest('base64'));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('the relay across a cluster', { skip: !existsSync(REDIS_SERVER) && `no ${REDIS_SERVER}` }, () => {
  let redis;
  const nodes = [];
  const clients = [];
  const node = async () => {
    const started = await startCompanionServer({ options: { port: 0, host: '127.0.0.1', redisUrl: redis.url, expireTimeoutMs: 10_000 }, secret });
    nodes.push(started);
    return started;
  };
  const join = async (port, id) => {
    const joined = await client(port, id);
    clients.push(joined);
    return joined;
  };
  before(async () => {
    redis = await startRedisServer(await freePort());
  });
  after(async () => {
    for (const joined of clients) joined.close();
    for (const started of nodes) await started.stop();
    await redis?.stop();
  });

  it('relays between clients of two nodes with src set by the sender\'s node, and hands over what waited for an id that registers on the other', { timeout: 60_000 }, async () => {
    const [a, b] = [await node(), await node()];
    const alice = await join(a.port, 'c-alice');
    const bob = await join(b.port, 'c-bob');
    alice.send({ type: 'RELAY', src: 'c-mallory', dst: 'c-bob', payload: invite('across') });
    assert.deepEqual(await bob.next('RELAY'), { type: 'RELAY', src: 'c-alice', dst: 'c-bob', payload: invite('across') });
    bob.send({ type: 'RELAY', dst: 'c-alice', payload: invite('back') });
    assert.equal((await alice.next('RELAY')).src, 'c-bob');

    alice.send({ type: 'RELAY', dst: 'c-carol', payload: invite('waited') });
    alice.send({ type: 'RELAY', dst: 'c-alice', payload: invite('marker') });
    await alice.next('RELAY');
    const carol = await join(b.port, 'c-carol');
    assert.deepEqual(await carol.next('RELAY'), { type: 'RELAY', src: 'c-alice', dst: 'c-carol', payload: invite('waited') });
  });
});
