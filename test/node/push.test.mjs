// Web Push from the companion server (issue #19), in Node: startPeerServer({ push }) with
// PeerServer-protocol clients on 127.0.0.1 and a local HTTPS stand-in push service that checks
// the VAPID JWT, the headers, and decrypts each body with the subscriber's own keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateVapidKeys, signToken, startPeerServer } from '../../dist/server/index.js';
import { startRedisServer } from '../../scripts/redis-server-process.mjs';
import { connect, invite, offer } from '../push/clients.mjs';
import { createSubscriber, decryptAes128gcm, startPushService } from '../push/push-service.mjs';

const secret = randomBytes(32).toString('base64url');
const token = (userId) => signToken({ secret, userId, expiresInSeconds: 60 });
const vapidKeys = generateVapidKeys();
const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));
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

/** A server pushing to the stand-in, and the clients a test opened; all closed by `stop()`. */
async function world(push = {}, options = {}) {
  const results = [];
  const server = await startPeerServer({
    port: 0,
    host: '127.0.0.1',
    secret,
    ...options,
    push: { vapidKeys, subject: 'mailto:ops@example.com', allowedEndpoints: [`${service.origin}/push/`], agent, onResult: (result) => results.push(result), ...push },
  });
  const clients = [];
  return {
    server,
    results,
    async client(id, clientToken = token(id), port = server.port) {
      const client = await connect(port, id, clientToken);
      clients.push(client);
      return client;
    },
    /** `userId` subscribes the subscriber (over its own socket, which then closes: the user has no tab open). */
    async subscribe(userId, subscriber, port = server.port) {
      const client = await this.client(userId, token(userId), port);
      client.send({ type: 'PUSH-SUBSCRIBE', payload: { subscription: subscriber.subscription } });
      const result = await client.next((message) => message.type === 'PUSH-RESULT');
      await client.close();
      return result.payload;
    },
    async stop() {
      for (const client of clients) client.socket.terminate();
      await server.close();
    },
  };
}

let subscribers = 0;
const newSubscriber = () => {
  const id = `device-${++subscribers}`;
  return { id, ...createSubscriber(service.endpoint(id)) };
};
const pushFor = (subscriber, test = () => true) => service.next((entry) => entry.id === subscriber.id && test(entry));
const payloadOf = (subscriber, entry) => JSON.parse(String(subscriber.decrypt(entry.body)));
const pushesTo = (subscriber) => service.received.filter((entry) => entry.id === subscriber.id);

describe('RFC 8291 decryption in the stand-in', () => {
  it('decrypts RFC 8291 Appendix A', () => {
    const b = (text) => Buffer.from(text, 'base64url');
    const body = b('DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN');
    const plaintext = decryptAes128gcm({
      body,
      uaPrivate: b('q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94'),
      uaPublic: b('BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4'),
      authSecret: b('BTBZMqHH6r4Tts7J_aSIgg'),
    });
    assert.equal(String(plaintext), 'When I grow up, I want to be a watermelon');
  });
});

describe('peer-invitation-server generate-vapid-keys', () => {
  it('writes a key pair only its owner can read, refuses to overwrite it, and the server starts with it', TIMEOUT, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vapid-'));
    try {
      const file = join(dir, 'vapid.json');
      const made = spawnSync(process.execPath, [cli, 'generate-vapid-keys', file], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const keys = JSON.parse(readFileSync(file, 'utf8'));
      assert.match(keys.publicKey, /^[A-Za-z0-9_-]{87}$/);
      assert.match(keys.privateKey, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.notEqual(spawnSync(process.execPath, [cli, 'generate-vapid-keys', file], { encoding: 'utf8' }).status, 0);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), keys);
      const server = await startPeerServer({ port: 0, host: '127.0.0.1', secret, push: { vapidKeys: keys, subject: 'mailto:ops@example.com' } });
      try {
        const alice = await connect(server.port, 'alice', token('alice'));
        const info = await alice.next((message) => message.type === 'SERVER-INFO');
        assert.equal(info.payload.push.publicKey, keys.publicKey);
        alice.socket.terminate();
      } finally {
        await server.close();
      }
      assert.throws(() => startPeerServer({ port: 0, push: { vapidKeys: { ...keys, publicKey: generateVapidKeys().publicKey }, subject: 'mailto:x@example.com' } }), /does not belong/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startPeerServer({ push })', () => {
  it('pushes a parked invitation to each subscription of an invitee with no socket: high urgency, TTL, Topic, no data', TIMEOUT, async () => {
    const w = await world();
    try {
      const [phone, laptop] = [newSubscriber(), newSubscriber()];
      assert.deepEqual(await w.subscribe('bob', phone), { endpoint: phone.subscription.endpoint, ok: true });
      assert.deepEqual(await w.subscribe('bob', laptop), { endpoint: laptop.subscription.endpoint, ok: true });
      const alice = await w.client('alice');
      const message = invite('alice', { remainingMs: 30_000 });
      const sentAt = Date.now();
      alice.send(offer('bob', [message]));
      for (const subscriber of [phone, laptop]) {
        const entry = await pushFor(subscriber);
        assert.equal(entry.urgency, 'high');
        assert.ok(entry.ttl <= 30 && entry.ttl >= 25, `TTL ${entry.ttl}`);
        assert.match(entry.topic, /^[A-Za-z0-9_-]{32}$/);
        assert.equal(entry.claims.sub, 'mailto:ops@example.com');
        const payload = payloadOf(subscriber, entry);
        const { decline, deadline, ...rest } = payload;
        assert.deepEqual(rest, { v: 1, kind: 'ring', invitationID: message.invitationID, inviterID: 'alice', inviterName: 'Alice A.', type: 1, title: 'Call', message: 'Join room 7' });
        assert.ok(deadline >= sentAt + 29_000 && deadline <= Date.now() + 30_000);
        assert.equal(typeof decline, 'string');
        assert.ok(!JSON.stringify(payload).includes('secret room 7'), 'the invitation data never goes into a push');
      }
      // Still parked as ever: bob gets the OFFER when he registers.
      const bob = await w.client('bob');
      const delivered = await bob.next((frame) => frame.type === 'OFFER');
      assert.equal(delivered.src, 'alice');
      assert.deepEqual(delivered.payload.metadata.peerInvitation, [message]);
    } finally {
      await w.stop();
    }
  });

  it('pushes nothing when the invitee is online, for a retried OFFER, or for an invite without notification', TIMEOUT, async () => {
    const w = await world();
    try {
      const phone = newSubscriber();
      await w.subscribe('bob', phone);
      const alice = await w.client('alice');
      const bob = await w.client('bob');
      const online = invite('alice');
      alice.send(offer('bob', [online]));
      await bob.next((frame) => frame.type === 'OFFER');
      await bob.close();
      const quiet = invite('alice', { notification: null });
      const ringing = invite('alice');
      alice.send(offer('bob', [quiet]));
      alice.send(offer('bob', [ringing]));
      alice.send(offer('bob', [{ ...ringing, remainingMs: 25_000 }]));
      const sentinel = invite('alice');
      alice.send(offer('bob', [sentinel]));
      await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === sentinel.invitationID);
      assert.deepEqual(pushesTo(phone).map((entry) => payloadOf(phone, entry).invitationID), [ringing.invitationID, sentinel.invitationID]);
    } finally {
      await w.stop();
    }
  });

  it('replaces a pushed invitation by a missed call when it is canceled or times out', TIMEOUT, async () => {
    const w = await world();
    try {
      const phone = newSubscriber();
      await w.subscribe('bob', phone);
      const alice = await w.client('alice');
      const canceled = invite('alice');
      alice.send(offer('bob', [canceled]));
      const ring = await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === canceled.invitationID);
      alice.send(offer('bob', [{ v: 2, kind: 'cancel', invitationID: canceled.invitationID, data: '', remainingMs: 20_000 }]));
      const missed = await pushFor(phone, (entry) => payloadOf(phone, entry).kind === 'missed');
      assert.equal(missed.topic, ring.topic, 'the same Topic: an undelivered ring is replaced at the push service');
      assert.deepEqual(payloadOf(phone, missed), { v: 1, kind: 'missed', invitationID: canceled.invitationID, inviterID: 'alice', inviterName: 'Alice A.', type: 1, reason: 'canceled' });
      const timedOut = invite('alice', { remainingMs: 1500 });
      alice.send(offer('bob', [timedOut]));
      const expired = await pushFor(phone, (entry) => payloadOf(phone, entry).kind === 'missed' && payloadOf(phone, entry).invitationID === timedOut.invitationID);
      assert.equal(payloadOf(phone, expired).reason, 'timeout');
    } finally {
      await w.stop();
    }
  });

  it('stores a subscription only for the id its socket registered with a valid token', TIMEOUT, async () => {
    const w = await world();
    try {
      const [bobs, mallorys, forged] = [newSubscriber(), newSubscriber(), newSubscriber()];
      await w.subscribe('bob', bobs);
      // Mallory names bob in the frame: it is stored for mallory, the id of her socket.
      const mallory = await w.client('mallory');
      mallory.send({ type: 'PUSH-SUBSCRIBE', userId: 'bob', src: 'bob', payload: { subscription: mallorys.subscription, userId: 'bob' } });
      await mallory.next((message) => message.type === 'PUSH-RESULT');
      // A client without a valid token for bob never registers, and what it sends is never read.
      const impostor = await w.client('bob', 'forged');
      assert.equal(impostor.first.type, 'ERROR');
      if (impostor.socket.readyState === 1) impostor.send({ type: 'PUSH-SUBSCRIBE', payload: { subscription: forged.subscription } });
      const alice = await w.client('alice');
      const message = invite('alice');
      alice.send(offer('bob', [message]));
      await pushFor(bobs);
      const sentinel = invite('alice');
      alice.send(offer('mallory', [sentinel]));
      await mallory.close();
      alice.send(offer('mallory', [invite('alice')]));
      await pushFor(mallorys);
      assert.equal(service.received.filter((entry) => entry.id === forged.id).length, 0);
      assert.ok(pushesTo(mallorys).every((entry) => !payloadOf(mallorys, entry).invitationID.startsWith(message.invitationID)));
    } finally {
      await w.stop();
    }
  });

  it('refuses endpoints off the allow-list or not https, malformed keys, and more than the cap per user', TIMEOUT, async () => {
    const w = await world({ maxSubscriptionsPerUser: 2 });
    const open = await startPeerServer({ port: 0, host: '127.0.0.1', secret, push: { vapidKeys, subject: 'https://example.com/contact' } });
    try {
      const reasons = async (server, subscriptions) => {
        const bob = await connect(server.port, 'bob', token('bob'));
        const answers = [];
        for (const subscription of subscriptions) {
          bob.send({ type: 'PUSH-SUBSCRIBE', payload: { subscription } });
          const result = await bob.next((message) => message.type === 'PUSH-RESULT' && !answers.includes(message));
          answers.push(result);
        }
        bob.socket.terminate();
        return answers.map(({ payload }) => (payload.ok ? 'ok' : payload.reason));
      };
      const keys = newSubscriber().subscription.keys;
      const at = (endpoint) => ({ endpoint, keys });
      assert.deepEqual(
        await reasons(w.server, [
          at(`${service.origin}/push/a`),
          at(`${service.origin.replace('https:', 'http:')}/push/b`),
          at('https://evil.example/push/c'),
          at(`${service.origin}/elsewhere`),
          { endpoint: `${service.origin}/push/d`, keys: { p256dh: 'short', auth: keys.auth } },
          at(`${service.origin}/push/a`),
          at(`${service.origin}/push/e`),
          at(`${service.origin}/push/f`),
        ]),
        ['ok', 'not-allowed', 'not-allowed', 'not-allowed', 'invalid', 'ok', 'ok', 'too-many'],
      );
      // Without allowedEndpoints: only the known push services.
      assert.deepEqual(
        await reasons(open, [at('https://fcm.googleapis.com/fcm/send/x'), at('https://updates.push.services.mozilla.com/wpush/v2/x'), at(`${service.origin}/push/g`), at('https://fcm.googleapis.com:8443/x')]),
        ['ok', 'ok', 'not-allowed', 'not-allowed'],
      );
    } finally {
      await open.close();
      await w.stop();
    }
  });

  it('forgets a subscription answered 404 or 410, reports 413, and waits for Retry-After on 429', TIMEOUT, async () => {
    const w = await world();
    try {
      const [gone, missing, large, busy, other] = [newSubscriber(), newSubscriber(), newSubscriber(), newSubscriber(), newSubscriber()];
      service.answer(gone.id, 410);
      service.answer(missing.id, 404);
      service.answer(large.id, 413);
      service.answer(busy.id, 429, { 'Retry-After': '1' });
      for (const subscriber of [gone, missing, large, busy, other]) await w.subscribe('bob', subscriber);
      const alice = await w.client('alice');
      alice.send(offer('bob', [invite('alice')]));
      const first = await pushFor(busy);
      assert.equal(first.status, 429);
      const retried = await pushFor(busy, (entry) => entry !== first);
      assert.equal(retried.status, 201);
      assert.ok(retried.at - first.at >= 1000, `retried after ${retried.at - first.at} ms`);
      await pushFor(gone);
      await pushFor(missing);
      assert.ok(w.results.some((result) => result.endpoint === large.subscription.endpoint && result.status === 413));
      const count = service.received.length;
      const second = invite('alice');
      alice.send(offer('bob', [second]));
      await pushFor(other, (entry) => payloadOf(other, entry).invitationID === second.invitationID);
      await pushFor(large, (entry) => payloadOf(large, entry).invitationID === second.invitationID);
      await pushFor(busy, (entry) => payloadOf(busy, entry).invitationID === second.invitationID);
      assert.deepEqual(service.received.slice(count).filter((entry) => entry.id === gone.id || entry.id === missing.id), []);
    } finally {
      await w.stop();
    }
  });

  it('rate-limits pushes per inviter with the client limits (rates.push)', TIMEOUT, async () => {
    const w = await world({}, { limits: { rates: { push: { perSecond: 0.01, burst: 2 } } } });
    try {
      const phone = newSubscriber();
      await w.subscribe('bob', phone);
      const alice = await w.client('alice');
      const carol = await w.client('carol');
      const flood = [invite('alice'), invite('alice'), invite('alice')];
      for (const message of flood) alice.send(offer('bob', [message]));
      const sentinel = invite('carol');
      carol.send(offer('bob', [sentinel]));
      await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === sentinel.invitationID);
      await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === flood[1].invitationID);
      assert.deepEqual(pushesTo(phone).filter((entry) => payloadOf(phone, entry).inviterID === 'alice').map((entry) => payloadOf(phone, entry).invitationID).sort(), [flood[0].invitationID, flood[1].invitationID].sort());
    } finally {
      await w.stop();
    }
  });

  it('decline: the capability delivers a refuse from the invitee to the inviter once, and only for its invitation', TIMEOUT, async () => {
    const w = await world();
    try {
      const phone = newSubscriber();
      await w.subscribe('bob', phone);
      const alice = await w.client('alice');
      const message = invite('alice');
      alice.send(offer('bob', [message]));
      const { decline } = payloadOf(phone, await pushFor(phone));
      const url = `http://127.0.0.1:${w.server.port}/peerjs/push/decline`;
      const post = (capability) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8', Origin: 'https://app.example' }, body: JSON.stringify({ capability }) });
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
      assert.equal(preflight.status, 204);
      assert.ok(preflight.headers.get('access-control-allow-origin'));
      // Changed in any part (here: naming carol as the invitee), it is refused.
      const [body, signature] = decline.split('.');
      const fields = JSON.parse(Buffer.from(body, 'base64url'));
      const forged = `${Buffer.from(JSON.stringify([fields[0], fields[1], 'carol', fields[3]])).toString('base64url')}.${signature}`;
      assert.equal((await post(forged)).status, 403);
      assert.equal((await post('nonsense')).status, 403);
      const first = await post(decline);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(await first.json(), { ok: true, refuse: 'sent' });
      const relayed = await alice.next((frame) => frame.type === 'RELAY');
      assert.equal(relayed.src, 'bob');
      assert.equal(relayed.dst, 'alice');
      assert.deepEqual({ ...relayed.payload, remainingMs: 0 }, { v: 2, kind: 'refuse', invitationID: message.invitationID, data: '', remainingMs: 0 });
      assert.ok(relayed.payload.remainingMs > 0 && relayed.payload.remainingMs <= 30_000);
      const again = await post(decline);
      assert.equal(again.status, 409);
      assert.equal(alice.messages.filter((frame) => frame.type === 'RELAY').length, 1);
      // Declined: its cancel sends no missed call.
      alice.send(offer('bob', [{ v: 2, kind: 'cancel', invitationID: message.invitationID, data: '', remainingMs: 20_000 }]));
      const sentinel = invite('alice');
      alice.send(offer('bob', [sentinel]));
      await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === sentinel.invitationID);
      assert.deepEqual(pushesTo(phone).map((entry) => payloadOf(phone, entry).kind), ['ring', 'ring']);
    } finally {
      await w.stop();
    }
  });
});

describe('push after a decline', () => {
  it('drops the OFFER that rang, and parks the refuse for an offline inviter until it registers', TIMEOUT, async () => {
    const w = await world();
    try {
      const phone = newSubscriber();
      await w.subscribe('bob', phone);
      const alice = await w.client('alice');
      const message = invite('alice');
      alice.send(offer('bob', [message]));
      const { decline } = payloadOf(phone, await pushFor(phone));
      await alice.close();
      const carol = await w.client('carol');
      const sentinel = invite('carol', { notification: null });
      carol.send(offer('bob', [sentinel]));
      const answer = await fetch(`http://127.0.0.1:${w.server.port}/peerjs/push/decline`, { method: 'POST', body: JSON.stringify({ capability: decline }) });
      assert.deepEqual(await answer.json(), { ok: true, refuse: 'parked' });
      // bob's app opens: carol's OFFER (parked after alice's) comes, alice's declined one does not.
      const bob = await w.client('bob');
      const handed = await bob.next((frame) => frame.type === 'OFFER' && frame.src === 'carol');
      assert.deepEqual(handed.payload.metadata.peerInvitation, [sentinel]);
      assert.deepEqual(bob.messages.filter((frame) => frame.type === 'OFFER' && frame.src === 'alice'), []);
      // alice's app opens: the refuse waited for it.
      const back = await w.client('alice');
      const relayed = await back.next((frame) => frame.type === 'RELAY');
      assert.deepEqual([relayed.src, relayed.payload.kind, relayed.payload.invitationID], ['bob', 'refuse', message.invitationID]);
    } finally {
      await w.stop();
    }
  });
});

describe('push in a cluster', { skip: !existsSync(REDIS_SERVER) && `no ${REDIS_SERVER}` }, () => {
  it('a subscription stored on one server rings for an invitation parked on another; the decline reaches the inviter across them', TIMEOUT, async () => {
    const redis = await startRedisServer();
    const first = await world({}, { redisUrl: redis.url });
    const second = await world({}, { redisUrl: redis.url });
    try {
      const phone = newSubscriber();
      assert.equal((await first.subscribe('bob', phone)).ok, true);
      const alice = await second.client('alice');
      const message = invite('alice');
      alice.send(offer('bob', [message]));
      const payload = payloadOf(phone, await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === message.invitationID));
      assert.equal(payload.inviterID, 'alice');
      const answer = await fetch(`http://127.0.0.1:${first.server.port}/peerjs/push/decline`, { method: 'POST', body: JSON.stringify({ capability: payload.decline }) });
      assert.deepEqual(await answer.json(), { ok: true, refuse: 'sent' });
      const relayed = await alice.next((frame) => frame.type === 'RELAY');
      assert.deepEqual([relayed.src, relayed.payload.kind, relayed.payload.invitationID], ['bob', 'refuse', message.invitationID]);
      // Used once, cluster-wide.
      assert.equal((await fetch(`http://127.0.0.1:${second.server.port}/peerjs/push/decline`, { method: 'POST', body: JSON.stringify({ capability: payload.decline }) })).status, 409);
    } finally {
      await first.stop();
      await second.stop();
      await redis.stop();
    }
  });

  it('a cancel parked on another server than the ring sends the missed call, once', TIMEOUT, async () => {
    const redis = await startRedisServer();
    const first = await world({}, { redisUrl: redis.url });
    const second = await world({}, { redisUrl: redis.url });
    try {
      const phone = newSubscriber();
      assert.equal((await first.subscribe('bob', phone)).ok, true);
      const alice = await second.client('alice');
      const message = invite('alice');
      alice.send(offer('bob', [message]));
      const rung = await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === message.invitationID);
      // alice's app moved to the other server, and cancels from there.
      await alice.close();
      const moved = await first.client('alice');
      moved.send(offer('bob', [{ v: 2, kind: 'cancel', invitationID: message.invitationID, data: '', remainingMs: 20_000 }]));
      const missed = await pushFor(phone, (entry) => payloadOf(phone, entry).kind === 'missed');
      assert.deepEqual([payloadOf(phone, missed).invitationID, payloadOf(phone, missed).reason], [message.invitationID, 'canceled']);
      assert.equal(missed.topic, rung.topic);
      // Cancelled again (a retried OFFER): no second missed call.
      moved.send(offer('bob', [{ v: 2, kind: 'cancel', invitationID: message.invitationID, data: '', remainingMs: 19_000 }]));
      const sentinel = invite('alice');
      moved.send(offer('bob', [sentinel]));
      await pushFor(phone, (entry) => payloadOf(phone, entry).invitationID === sentinel.invitationID);
      assert.deepEqual(pushesTo(phone).map((entry) => payloadOf(phone, entry).kind), ['ring', 'missed', 'ring']);
    } finally {
      await first.stop();
      await second.stop();
      await redis.stop();
    }
  });
});
