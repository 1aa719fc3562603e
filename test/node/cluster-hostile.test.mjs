// The same attacks as hostile.test.mjs against a two-node cluster on a real redis-server: the
// attackers on node a, their victims on node b (through Redis), the mailbox on the sender's node.
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { signToken } from '../../dist/server/index.js';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { startRedisServer } from '../../scripts/redis-server-process.mjs';
import { handshakeFlood, mailboxFlood, offerFlood, oversizeFrame, slowReader } from './attacks.mjs';
import { closeAll } from './raw-client.mjs';
import { skipWithoutRedis } from './redis.mjs';

const secret = randomBytes(32).toString('base64url');
const metricsToken = randomBytes(24).toString('base64url');
const MAILBOX_TOTAL_BYTES = 8 * 2 ** 20;
// Low enough that 1,000 handshakes pass it however fast this machine makes them.
const HANDSHAKE_RATE = { perSecond: 5, burst: 100 };
const TIMEOUT = { timeout: 90_000 };

describe('a two-node cluster against hostile clients', { skip: skipWithoutRedis() }, () => {
  const clients = new Set();
  let redis;
  let nodes = [];
  before(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    closeAll(clients);
    await Promise.all(nodes.map((node) => node.kill()));
    nodes = [];
  });
  after(async () => {
    await redis?.stop();
  });

  const start = async (options = {}) => {
    const nodeOptions = { port: 0, host: '127.0.0.1', path: '/peerjs', metricsToken, redisUrl: redis.url, ...options };
    nodes = await Promise.all([startCompanionServer({ options: nodeOptions, secret }), startCompanionServer({ options: nodeOptions, secret })]);
    return {
      attacker: nodes[0].port,
      victim: nodes[1].port,
      ports: nodes.map((node) => node.port),
      servers: nodes,
      metricsToken,
      clients,
      token: (id) => signToken({ secret, userId: id, expiresInSeconds: 600 }),
    };
  };

  it('closes a client that sends a frame over maxFrameBytes, and relays none of it to the other node', TIMEOUT, async (t) => {
    await oversizeFrame(await start(), (line) => t.diagnostic(line));
  });

  it('drops a flood of OFFERs to the other node beyond the rate, and cuts the flooder off', TIMEOUT, async (t) => {
    await offerFlood(await start(), (line) => t.diagnostic(line));
  });

  it('keeps the mailbox of the sender\'s node within its quotas, refusing with EXPIRE', TIMEOUT, async (t) => {
    await mailboxFlood(await start({ limits: { mailbox: { total: { messages: 100_000, bytes: MAILBOX_TOTAL_BYTES } } } }), (line) => t.diagnostic(line), { totalBytes: MAILBOX_TOTAL_BYTES });
  });

  it('closes a reader on the other node that stops reading', TIMEOUT, async (t) => {
    await slowReader(await start(), (line) => t.diagnostic(line));
  });

  it('refuses handshakes from one address beyond its rate, and still registers others', TIMEOUT, async (t) => {
    await handshakeFlood(await start({ limits: { handshakesPerIp: HANDSHAKE_RATE } }), (line) => t.diagnostic(line));
  });
});
