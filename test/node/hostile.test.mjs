// The companion server against hostile registered clients: one server process (tokens required,
// metrics on), raw WebSocket clients, its memory read from /proc. Each attack is bounded in count
// and time, and an honest client is served during it (attacks.mjs).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { signToken } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { handshakeFlood, mailboxFlood, offerFlood, oversizeFrame, slowReader } from './attacks.mjs';
import { closeAll } from './raw-client.mjs';

const secret = randomBytes(32).toString('base64url');
const metricsToken = randomBytes(24).toString('base64url');
const MAILBOX_TOTAL_BYTES = 8 * 2 ** 20;
// Low enough that 1,000 handshakes pass it however fast this machine makes them.
const HANDSHAKE_RATE = { perSecond: 5, burst: 100 };
const TIMEOUT = { timeout: 90_000 };

describe('the companion server against hostile clients', () => {
  const clients = new Set();
  let server;
  afterEach(async () => {
    closeAll(clients);
    await server?.kill();
    server = undefined;
  });

  const start = async (options = {}) => {
    server = await startCompanionServer({ options: { port: 0, host: '127.0.0.1', path: '/peerjs', metricsToken, ...options }, secret });
    return {
      attacker: server.port,
      victim: server.port,
      ports: [server.port],
      servers: [server],
      metricsToken,
      clients,
      token: (id) => signToken({ secret, userId: id, expiresInSeconds: 600 }),
    };
  };

  it('closes a client that sends a frame over maxFrameBytes, and relays none of it', TIMEOUT, async (t) => {
    await oversizeFrame(await start(), (line) => t.diagnostic(line));
  });

  it('drops a flood of OFFERs beyond the rate, and cuts the flooder off for the cool-down', TIMEOUT, async (t) => {
    await offerFlood(await start(), (line) => t.diagnostic(line));
  });

  it('keeps the mailbox within its quotas, refusing with EXPIRE, evicting nothing honest', TIMEOUT, async (t) => {
    await mailboxFlood(await start({ limits: { mailbox: { total: { messages: 100_000, bytes: MAILBOX_TOTAL_BYTES } } } }), (line) => t.diagnostic(line), { totalBytes: MAILBOX_TOTAL_BYTES });
  });

  it('closes a client that stops reading once its send buffer passes maxBufferedBytes', TIMEOUT, async (t) => {
    await slowReader(await start(), (line) => t.diagnostic(line));
  });

  it('refuses handshakes from one address beyond its rate, and still registers others', TIMEOUT, async (t) => {
    await handshakeFlood(await start({ limits: { handshakesPerIp: HANDSHAKE_RATE } }), (line) => t.diagnostic(line));
  });
});
