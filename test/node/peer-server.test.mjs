// startPeerServer and the peer-invitation-server command, in Node, with WebSocket
// clients speaking the PeerJS server protocol (what a PeerJS client sends and reads).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { signToken, startPeerServer } from '../../dist/server/index.js';

const secret = 'x'.repeat(32);
const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));

/** The first message the server sends a client registering `id` with `token` (OPEN, ERROR, ID-TAKEN), and the socket. */
function register(port, id, token, path = '/peerjs') {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}/peerjs?key=peerjs&id=${id}&token=${encodeURIComponent(token)}`);
    socket.once('message', (data) => resolve({ message: JSON.parse(String(data)), socket }));
    socket.once('error', reject);
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
  it('with a secret: registers only a client whose token verifies for that id', async () => {
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

  it('refuses before the id registers: the real user can still have it, and gets what was parked for it', async () => {
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

  it('with verify: the app decides, asynchronously; a throwing check refuses', async () => {
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

  it('survives a client that resets its connection while its token is being checked', async () => {
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

  it('with neither: an open server, as a plain PeerServer', async () => {
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

  it('close() frees the port, ends client sockets, and can be called twice', async () => {
    const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret });
    const { socket } = await register(server.port, 'hana', signToken({ secret, userId: 'hana', expiresInSeconds: 60 }));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    assert.equal(await portIsFree(server.port), false);
    await Promise.all([server.close(), server.close()]);
    await closed;
    assert.equal(await portIsFree(server.port), true);
    // The same port again, at once.
    const again = await startPeerServer({ port: server.port, host: '127.0.0.1', secret });
    await again.close();
  });

  it('rejects a taken port, a short secret, and a secret with verify', async () => {
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

describe('peer-invitation-server command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peer-invitation-server-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the command; resolves with its port once it listens, or with its exit code and output if it exits first. */
  function run(args, env = {}) {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, PEER_INVITATION_SECRET: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    return ready;
  }

  it('reads the secret from a file, requires tokens, and stops on SIGTERM', async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${secret}\n`);
    const { port, child, exited } = await run(['--port', '0', '--host', '127.0.0.1', '--secret-file', file]);
    assert.equal((await firstMessage(port, 'ivan', 'forged')).type, 'ERROR');
    assert.equal((await firstMessage(port, 'ivan', signToken({ secret, userId: 'ivan', expiresInSeconds: 60 }))).type, 'OPEN');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(await portIsFree(port), true);
  });

  it('reads the secret from PEER_INVITATION_SECRET', async () => {
    const { port, child, exited } = await run(['--port', '0', '--host', '127.0.0.1'], { PEER_INVITATION_SECRET: secret });
    assert.equal((await firstMessage(port, 'judy', signToken({ secret, userId: 'judy', expiresInSeconds: 60 }))).type, 'OPEN');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('refuses to start without a secret (unless --open), or with one on the command line', async () => {
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
