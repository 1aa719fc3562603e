// startPeerServer and the peer-invitation-server command, in Node, with WebSocket
// clients speaking the PeerJS server protocol (what a PeerJS client sends and reads).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { signToken, startPeerServer } from '../../dist/server/index.js';
import { startRedisServer } from '../../scripts/redis-server-process.mjs';
import { closeAll, connectClient, within } from './raw-client.mjs';
import { skipWithoutRedis } from './redis.mjs';

const secret = 'x'.repeat(32);
const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));

/** The first message the server sends a client registering `id` with `token` (OPEN, ERROR, ID-TAKEN), and the socket. */
function register(port, id, token, path = '/peerjs') {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}/peerjs?key=peerjs&id=${id}&token=${encodeURIComponent(token)}`);
    socket.once('message', (data) => resolve({ message: JSON.parse(String(data)), socket }));
    socket.once('error', reject);
    setTimeout(() => reject(new Error(`${id}: no first message within 10 s`)), 10_000).unref();
  });
}

async function firstMessage(port, id, token) {
  const { message, socket } = await register(port, id, token);
  socket.terminate();
  return message;
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('startPeerServer', () => {
  it('with a secret: registers only a client whose token verifies for that id', { timeout: 20_000 }, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret });
    try {
      assert.ok(server.port > 0);
      const unauthorized = { type: 'ERROR', payload: { msg: 'UNAUTHORIZED: no valid token for this id' } };
      assert.deepEqual(await firstMessage(server.port, 'alice', 'forged'), unauthorized);
      assert.deepEqual(await firstMessage(server.port, 'alice', signToken({ secret, userId: 'bob', expiresInSeconds: 60 })), unauthorized);
      const expired = signToken({ secret, userId: 'alice', expiresInSeconds: 60, now: Date.now() - 120_000 });
      assert.deepEqual(await firstMessage(server.port, 'alice', expired), unauthorized);
      assert.deepEqual(await firstMessage(server.port, 'alice', signToken({ secret, userId: 'alice', expiresInSeconds: 60 })), { type: 'OPEN' });
    } finally {
      await server.close();
    }
  });

  it('refuses before the id registers: the real user can still have it, and gets what was parked for it', { timeout: 20_000 }, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret });
    const sockets = [];
    try {
      const sender = await register(server.port, 'carol', signToken({ secret, userId: 'carol', expiresInSeconds: 60 }));
      sockets.push(sender.socket);
      sender.socket.send(JSON.stringify({ type: 'OFFER', dst: 'dave', payload: { connectionId: 'c1' } }));
      const impostor = await register(server.port, 'dave', 'forged');
      sockets.push(impostor.socket);
      assert.equal(impostor.message.type, 'ERROR');
      const real = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs/peerjs?key=peerjs&id=dave&token=${signToken({ secret, userId: 'dave', expiresInSeconds: 60 })}`);
      sockets.push(real);
      const messages = await new Promise((resolve, reject) => {
        const seen = [];
        real.on('message', (data) => {
          const message = JSON.parse(String(data));
          if (message.type !== 'SERVER-INFO') seen.push(message);
          if (seen.length === 2) resolve(seen);
        });
        real.once('error', reject);
      });
      assert.deepEqual(messages, [{ type: 'OPEN' }, { type: 'OFFER', src: 'carol', dst: 'dave', payload: { connectionId: 'c1' } }]);
    } finally {
      for (const socket of sockets) socket.terminate();
      await server.close();
    }
  });

  it('with verify: the app decides, asynchronously; a throwing check refuses', { timeout: 20_000 }, async () => {
    const asked = [];
    const server = await startPeerServer({
      port: 0,
      host: '127.0.0.1',
      verify: async (userId, token) => {
        asked.push([userId, token]);
        if (token === 'boom') throw new Error('session store down');
        return token === `session-of-${userId}`;
      },
    });
    try {
      assert.equal((await firstMessage(server.port, 'erin', 'session-of-erin')).type, 'OPEN');
      assert.equal((await firstMessage(server.port, 'frank', 'session-of-erin')).type, 'ERROR');
      assert.equal((await firstMessage(server.port, 'frank', 'boom')).type, 'ERROR');
      assert.deepEqual(asked.map(([userId]) => userId), ['erin', 'frank', 'frank']);
    } finally {
      await server.close();
    }
  });

  it('survives a client that resets its connection while its token is being checked', { timeout: 20_000 }, async () => {
    let releaseCheck;
    const checking = new Promise((resolve) => (releaseCheck = resolve));
    let asked;
    const askedPromise = new Promise((resolve) => (asked = resolve));
    const server = await startPeerServer({
      port: 0,
      host: '127.0.0.1',
      verify: async (userId) => {
        asked(userId);
        if (userId === 'reset') await checking;
        return true;
      },
    });
    try {
      const raw = connect(server.port, '127.0.0.1');
      raw.on('error', () => {});
      raw.write('GET /peerjs/peerjs?key=peerjs&id=reset&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      await askedPromise;
      const gone = new Promise((resolve) => raw.once('close', resolve));
      raw.resetAndDestroy();
      await gone;
      releaseCheck();
      // Still serving (an unhandled ECONNRESET would have ended this process).
      assert.equal((await firstMessage(server.port, 'after', 'any')).type, 'OPEN');
    } finally {
      await server.close();
    }
  });

  it('with neither: an open server, as a plain PeerServer', { timeout: 20_000 }, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1' });
    try {
      const first = await register(server.port, 'gina', 'any');
      assert.deepEqual(first.message, { type: 'OPEN' });
      assert.deepEqual(await firstMessage(server.port, 'gina', 'other'), { type: 'ID-TAKEN', payload: { msg: 'ID is taken' } });
      first.socket.terminate();
    } finally {
      await server.close();
    }
  });

  it('close() frees the port, ends client sockets, and can be called twice', { timeout: 20_000 }, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret });
    let again;
    try {
      const { socket } = await register(server.port, 'hana', signToken({ secret, userId: 'hana', expiresInSeconds: 60 }));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      assert.equal(await portIsFree(server.port), false);
      await Promise.all([server.close(), server.close()]);
      await closed;
      assert.equal(await portIsFree(server.port), true);
      // The same port again, at once.
      again = await startPeerServer({ port: server.port, host: '127.0.0.1', secret });
    } finally {
      await server.close();
      await again?.close();
    }
  });

  it('rejects a taken port, a short secret, and a secret with verify', { timeout: 20_000 }, async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1' });
    try {
      await assert.rejects(startPeerServer({ port: server.port, host: '127.0.0.1' }), { code: 'EADDRINUSE' });
    } finally {
      await server.close();
    }
    assert.throws(() => startPeerServer({ port: 0, secret: 'short' }), TypeError);
    assert.throws(() => startPeerServer({ port: 0, secret, verify: () => true }), TypeError);
  });
});

describe('startPeerServer options', () => {
  const clients = new Set();
  let server;
  afterEach(async () => {
    closeAll(clients);
    await server?.close();
    server = undefined;
  });
  const client = (id, options = {}) => connectClient({ port: server.port, id, token: options.token ?? 't', path: options.path, clients });

  it('concurrentLimit: the client over it gets an ERROR; a place freed is taken again', { timeout: 20_000 }, async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1', concurrentLimit: 2 });
    const [uma, vic] = [await client('uma'), await client('vic')];
    assert.deepEqual([uma.first, vic.first], [{ type: 'OPEN' }, { type: 'OPEN' }]);
    assert.equal((await client('wes')).first.type, 'ERROR');
    uma.socket.close();
    await uma.closed;
    for (;;) {
      const wes = await client('wes');
      if (wes.first.type === 'OPEN') break;
      await wes.closed;
    }
  });

  it('aliveTimeoutMs: a client silent for longer loses its id; one that sends HEARTBEATs keeps it', { timeout: 20_000 }, async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1', aliveTimeoutMs: 1000 });
    const silent = await client('xan');
    const beating = await client('yul');
    const heartbeat = setInterval(() => beating.send({ type: 'HEARTBEAT' }), 200);
    try {
      await within(10_000, 'the silent client let go', silent.closed);
      assert.deepEqual((await client('xan', { token: 'another' })).first, { type: 'OPEN' });
      assert.equal((await client('yul', { token: 'another' })).first.type, 'ID-TAKEN');
    } finally {
      clearInterval(heartbeat);
    }
  });

  it('path: clients register under it, and nowhere else', { timeout: 20_000 }, async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1', path: '/signal/' });
    assert.deepEqual((await client('zed', { path: '/signal' })).first, { type: 'OPEN' });
    assert.deepEqual((await client('zed')).first, { type: 'HTTP', status: 404 });
  });

  it('metrics: not served without metricsToken; with it, only to that bearer, in Prometheus text', { timeout: 20_000 }, async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1' });
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/peerjs/metrics`)).status, 404);
    await server.close();
    const metricsToken = 'm'.repeat(24);
    server = await startPeerServer({ port: 0, host: '127.0.0.1', metricsToken });
    const url = `http://127.0.0.1:${server.port}/peerjs/metrics`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const amy = await client('amy');
    amy.send({ type: 'OFFER', dst: 'away', payload: { connectionId: 'c' } });
    amy.send('not json');
    server.metrics.counter('peer_invitation_pushes_sent_total', 'Web Push messages sent').inc({}, 2);
    // Both frames handled: a HEARTBEAT after them, then a registration, which is handled after it.
    amy.send({ type: 'HEARTBEAT' });
    await client('amy-2');
    const response = await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/plain;.* version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE peer_invitation_registered_clients gauge$/m);
    assert.match(text, /^peer_invitation_registered_clients 2$/m);
    assert.match(text, /^peer_invitation_messages_parked_total\{type="OFFER"\} 1$/m);
    assert.match(text, /^peer_invitation_mailbox_messages 1$/m);
    assert.match(text, /^peer_invitation_refusals_total\{reason="invalid_message"\} 1$/m);
    assert.match(text, /^peer_invitation_pushes_sent_total 2$/m);
    assert.throws(() => startPeerServer({ port: 0, metricsToken: 'short' }), TypeError);
  });

  it('limits.rates.register: a verified id registering too often is refused with RATE_LIMITED', { timeout: 20_000 }, async () => {
    server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, limits: { rates: { register: { perSecond: 0.01, burst: 2 } } } });
    const token = signToken({ secret, userId: 'bea', expiresInSeconds: 60 });
    for (let n = 0; n < 2; n++) {
      const bea = await client('bea', { token });
      assert.deepEqual(bea.first, { type: 'OPEN' });
      bea.socket.terminate();
      await bea.closed;
    }
    const third = await client('bea', { token });
    assert.equal(third.first.type, 'ERROR');
    assert.match(third.first.payload.msg, /^RATE_LIMITED/);
    // Someone without bea's token spends nothing of bea's.
    assert.match((await client('cid', { token: 'forged' })).first.payload.msg, /^UNAUTHORIZED/);
  });
});

describe('peer-invitation-server command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peer-invitation-server-'));
  const children = new Set();
  const clients = new Set();
  after(() => rmSync(dir, { recursive: true, force: true }));
  // Whatever a test started goes, whether it passed or not.
  afterEach(() => {
    closeAll(clients);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.clear();
  });

  /** Runs the command; resolves with its port once it listens, or with its exit code and output if it exits first. */
  function run(args, env = {}) {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, PEER_INVITATION_SECRET: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise((resolve) => {
      const onData = (data) => {
        output += data;
        const port = /listening on port (\d+)/.exec(output)?.[1];
        if (port) resolve({ port: Number(port), child, output, exited });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      exited.then((code) => resolve({ code, output }));
    });
    return within(10_000, `peer-invitation-server ${args.join(' ')}`, ready);
  }

  it('reads the secret from a file, requires tokens, and stops on SIGTERM', { timeout: 20_000 }, async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${secret}\n`);
    const { port, child, exited } = await run(['--port', '0', '--host', '127.0.0.1', '--secret-file', file]);
    assert.equal((await firstMessage(port, 'ivan', 'forged')).type, 'ERROR');
    assert.equal((await firstMessage(port, 'ivan', signToken({ secret, userId: 'ivan', expiresInSeconds: 60 }))).type, 'OPEN');
    child.kill('SIGTERM');
    assert.equal(await within(10_000, 'exit on SIGTERM', exited), 0);
    assert.equal(await portIsFree(port), true);
  });

  it('stops on SIGINT too, freeing its port', { timeout: 20_000 }, async () => {
    const { port, child, exited } = await run(['--port', '0', '--host', '127.0.0.1', '--open']);
    child.kill('SIGINT');
    assert.equal(await within(10_000, 'exit on SIGINT', exited), 0);
    assert.equal(await portIsFree(port), true);
  });

  it('takes --path, --concurrent-limit, --expire-timeout-ms and --alive-timeout-ms', { timeout: 20_000 }, async () => {
    const { port, output } = await run(['--port', '0', '--host', '127.0.0.1', '--open', '--path', '/signal', '--concurrent-limit', '1', '--expire-timeout-ms', '500', '--alive-timeout-ms', '1500']);
    assert.match(output, /path \/signal/);
    const refusedPath = await connectClient({ port, id: 'nat', token: 't', clients });
    assert.deepEqual(refusedPath.first, { type: 'HTTP', status: 404 });
    const nat = await connectClient({ port, id: 'nat', token: 't', path: '/signal', clients });
    assert.deepEqual(nat.first, { type: 'OPEN' });
    const second = await connectClient({ port, id: 'ola', token: 't', path: '/signal', clients });
    assert.equal(second.first.type, 'ERROR', 'the concurrent limit of 1');
    // Kept 0.5 s for an id registered nowhere, then EXPIRE.
    nat.send({ type: 'OFFER', dst: 'nobody', payload: { connectionId: 'c' } });
    assert.deepEqual(await nat.next('EXPIRE'), { type: 'EXPIRE', src: 'nobody', dst: 'nat' });
    // Silent (no HEARTBEAT) for 1.5 s: its id is freed.
    await within(10_000, 'a silent client let go', nat.closed);
    const again = await connectClient({ port, id: 'ola', token: 't', path: '/signal', clients });
    assert.deepEqual(again.first, { type: 'OPEN' });
  });

  it('joins a cluster with --redis-url', { timeout: 20_000, skip: skipWithoutRedis() }, async () => {
    const redis = await startRedisServer();
    try {
      const a = await run(['--port', '0', '--host', '127.0.0.1', '--open', '--redis-url', redis.url]);
      const b = await run(['--port', '0', '--host', '127.0.0.1', '--open', '--redis-url', redis.url]);
      assert.match(a.output, /in the cluster of its Redis/);
      const pia = await connectClient({ port: a.port, id: 'pia', token: 't', clients });
      assert.deepEqual(pia.first, { type: 'OPEN' });
      const taken = await connectClient({ port: b.port, id: 'pia', token: 'other', clients });
      assert.equal(taken.first.type, 'ID-TAKEN');
      const rex = await connectClient({ port: b.port, id: 'rex', token: 't', clients });
      rex.send({ type: 'OFFER', dst: 'pia', payload: { connectionId: 'across' } });
      assert.equal((await pia.next('OFFER')).src, 'rex');
    } finally {
      closeAll(clients);
      for (const child of children) child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('reads the secret from PEER_INVITATION_SECRET', { timeout: 20_000 }, async () => {
    const { port, child, exited } = await run(['--port', '0', '--host', '127.0.0.1'], { PEER_INVITATION_SECRET: secret });
    assert.equal((await firstMessage(port, 'judy', signToken({ secret, userId: 'judy', expiresInSeconds: 60 }))).type, 'OPEN');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('refuses to start without a secret (unless --open), or with one on the command line', { timeout: 20_000 }, async () => {
    const none = await run(['--port', '0']);
    assert.equal(none.code, 2);
    assert.match(none.output, /no secret/);
    const inline = await run(['--port', '0', '--secret', secret]);
    assert.equal(inline.code, 2);
    const open = await run(['--port', '0', '--host', '127.0.0.1', '--open']);
    assert.equal((await firstMessage(open.port, 'kim', 'anything')).type, 'OPEN');
    open.child.kill('SIGTERM');
    assert.equal(await open.exited, 0);
  });
});
