// What a Decline from a push notification takes out of the mailbox (issue #19): every copy of the
// declined invitation waiting for the invitee (the OFFER that rang, and the RELAY the plugin sends
// beside it when the server relays), on whichever server of a cluster it waits, and the inviter hears
// EXPIRE for the dropped OFFER, as when an OFFER expires, so its PeerJS connection stops waiting at
// once and what it still owes the invitee (a second invitation) goes out on a new OFFER that rings.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeys, signToken, startPeerServer } from '../../dist/server/index.js';
import { startRedisServer } from '../../scripts/redis-server-process.mjs';
import { connect, invite, offer } from '../push/clients.mjs';
import { createSubscriber, startPushService } from '../push/push-service.mjs';

const secret = randomBytes(32).toString('base64url');
const token = (userId) => signToken({ secret, userId, expiresInSeconds: 60 });
const vapidKeys = generateVapidKeys();
const REDIS_SERVER = process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server';
const TIMEOUT = { timeout: 30_000 };

let service;
let agent;
before(async () => {
  service = await startPushService({ vapidPublicKey: vapidKeys.publicKey });
  agent = new Agent({ ca: service.cert });
});
after(async () => {
  agent.destroy();
  await service.close();
});

let servers = [];
let clients = [];
async function server(options = {}) {
  const started = await startPeerServer({ port: 0, host: '127.0.0.1', secret, ...options, push: { vapidKeys, subject: 'mailto:ops@example.com', allowedEndpoints: [`${service.origin}/push/`], agent } });
  servers.push(started);
  return started;
}
async function client(port, id) {
  const opened = await connect(port, id, token(id));
  clients.push(opened);
  return opened;
}
async function cleanUp() {
  for (const opened of clients) opened.socket.terminate();
  for (const started of servers) await started.close();
  clients = [];
  servers = [];
}

let devices = 0;
/** `userId` subscribes a new device over its own socket, which then closes (no tab open). */
async function subscribe(port, userId) {
  const id = `decline-device-${++devices}`;
  const device = { id, ...createSubscriber(service.endpoint(id)) };
  const socket = await client(port, userId);
  socket.send({ type: 'PUSH-SUBSCRIBE', payload: { subscription: device.subscription } });
  assert.equal((await socket.next((message) => message.type === 'PUSH-RESULT')).payload.ok, true);
  await socket.close();
  return device;
}
const ringOf = async (device, invitationID) => {
  const entry = await service.next((pushed) => pushed.id === device.id && JSON.parse(String(device.decrypt(pushed.body))).invitationID === invitationID);
  return JSON.parse(String(device.decrypt(entry.body)));
};
const decline = (port, capability) => fetch(`http://127.0.0.1:${port}/peerjs/push/decline`, { method: 'POST', body: JSON.stringify({ capability }) }).then((response) => response.json());
/** Everything of `invitationID` a client was handed: OFFERs carrying it, RELAYs of it. */
const copiesOf = (socket, invitationID) =>
  socket.messages.filter((frame) => (frame.type === 'OFFER' && frame.payload?.metadata?.peerInvitation?.some((message) => message.invitationID === invitationID)) || (frame.type === 'RELAY' && frame.payload?.invitationID === invitationID));

/**
 * alice (on `inviterPort`) invites bob as the plugin does with a relaying server: the OFFER carries
 * the invite, and the same invite goes through the relay. bob declines from the push (on
 * `declinePort`); carol then parks a sentinel for bob, and bob opens his app (on `inviteePort`).
 */
async function declineAndOpen({ inviterPort, declinePort, inviteePort, subscribePort }) {
  const device = await subscribe(subscribePort, 'bob');
  const alice = await client(inviterPort, 'alice');
  const first = invite('alice');
  alice.send(offer('bob', [first]));
  alice.send({ type: 'RELAY', dst: 'bob', payload: first });
  const ring = await ringOf(device, first.invitationID);
  assert.equal((await decline(declinePort, ring.decline)).ok, true);
  const refusal = await alice.next((frame) => frame.type === 'RELAY' && frame.payload.kind === 'refuse');
  assert.equal(refusal.payload.invitationID, first.invitationID);
  // The OFFER alice's PeerJS connection waits on is gone: it hears so (PeerJS: peer-unavailable), as at its expiry.
  const expired = await alice.next((frame) => frame.type === 'EXPIRE' && frame.src === 'bob');
  assert.equal(expired.dst, 'alice');
  // alice's plugin retries before it has taken in the refuse: that OFFER goes too, and she hears EXPIRE again.
  alice.send(offer('bob', [first]));
  await alice.next((frame) => frame.type === 'EXPIRE' && frame !== expired);
  const carol = await client(inviterPort, 'carol');
  const sentinel = invite('carol', { notification: null });
  carol.send(offer('bob', [sentinel]));
  const bob = await client(inviteePort, 'bob');
  await bob.next((frame) => frame.type === 'OFFER' && frame.src === 'carol');
  assert.deepEqual(copiesOf(bob, first.invitationID), [], 'the declined invitation does not ring in the app');
  // alice's next invitation (a new OFFER, once her connection gave up) rings bob's app as usual.
  const second = invite('alice');
  alice.send(offer('bob', [second]));
  await bob.next((frame) => copiesOf(bob, second.invitationID).includes(frame));
}

describe('a decline from a push notification', () => {
  it('takes the OFFER and the relayed copy of the invitation out of the mailbox, and the inviter hears EXPIRE', TIMEOUT, async () => {
    try {
      const one = await server();
      await declineAndOpen({ inviterPort: one.port, declinePort: one.port, inviteePort: one.port, subscribePort: one.port });
    } finally {
      await cleanUp();
    }
  });

  it('in a cluster, on the server where the invitation waits, not only on the one that took the decline', { ...TIMEOUT, skip: !existsSync(REDIS_SERVER) && `no ${REDIS_SERVER}` }, async () => {
    const redis = await startRedisServer();
    try {
      const waiting = await server({ redisUrl: redis.url });
      const declining = await server({ redisUrl: redis.url });
      await declineAndOpen({ inviterPort: waiting.port, declinePort: declining.port, inviteePort: declining.port, subscribePort: declining.port });
    } finally {
      await cleanUp();
      await redis.stop();
    }
  });
});
