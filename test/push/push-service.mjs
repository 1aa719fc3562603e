// A stand-in for a Web Push service (RFC 8030), on https://127.0.0.1 with a certificate made
// for the test, that checks what a real one would: the VAPID JWT (RFC 8292: ES256 with the
// key in `k`, `aud` = the endpoint's origin, `exp` at most 24 h ahead), `TTL`, `Urgency`,
// `Topic`, and the aes128gcm body (RFC 8291), which it decrypts with the subscriber's keys.
// It answers 201, or whatever status the test queued for that subscription.
import { createECDH, createDecipheriv, createHmac, createPublicKey, randomBytes, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1 (Debian's openssl): `{ key, cert }` in PEM; the cert is its own CA. */
export function makeCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'push-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A browser's side of a subscription: its P-256 key pair and auth secret, and the decryption. */
export function createSubscriber(endpoint) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    subscription: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
    decrypt: (body) => decryptAes128gcm({ body, uaPrivate: ecdh.getPrivateKey(), uaPublic: ecdh.getPublicKey(), authSecret: auth }),
  };
}

const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** RFC 8291 §3.4 and RFC 8188: one record, the sender's key in the header's keyid. */
export function decryptAes128gcm({ body, uaPrivate, uaPublic, authSecret }) {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20];
  const asPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  if (idLength !== 65 || ciphertext.length > recordSize) throw new Error('not one aes128gcm record with a P-256 keyid');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(uaPrivate);
  const secret = ecdh.computeSecret(asPublic);
  const ikm = hmac(hmac(authSecret, secret), Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1])]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}

/** Checks `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292 §3); returns the claims or throws. */
export function verifyVapid(header, { audience, publicKey, now = Date.now() }) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) throw new Error(`not a vapid Authorization: ${header}`);
  const [, jwt, k] = match;
  if (k !== publicKey) throw new Error('k is not the server key');
  const [head, claims, signature] = jwt.split('.');
  if (JSON.parse(Buffer.from(head, 'base64url')).alg !== 'ES256') throw new Error('not ES256');
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  if (!verify('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) throw new Error('bad JWT signature');
  const payload = JSON.parse(Buffer.from(claims, 'base64url'));
  if (payload.aud !== audience) throw new Error(`aud ${payload.aud} is not ${audience}`);
  if (!(payload.exp * 1000 > now) || payload.exp * 1000 > now + 24 * 3600 * 1000) throw new Error(`exp ${payload.exp} not within 24 h`);
  if (!/^(mailto:|https:)/.test(payload.sub ?? '')) throw new Error('sub is not mailto: or https:');
  return payload;
}

/**
 * Starts the stand-in. `vapidPublicKey`: the only key it accepts. Each accepted request (the
 * checks passed) becomes `{ id, status, ttl, urgency, topic, body, claims, at }` in `received`
 * and is announced to `next()` waiters; `answer(id, status, headers?)` queues an answer for the
 * next push to subscription `id`. `forward(id, body)`, when set, hands each body on (to a browser).
 */
export async function startPushService({ vapidPublicKey }) {
  const { key, cert } = makeCertificate();
  const received = [];
  const rejected = [];
  const queued = new Map();
  let waiters = [];
  const service = { received, rejected, cert, forward: undefined };
  const server = createServer({ key, cert }, (request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const id = decodeURIComponent(new URL(request.url, 'https://x').pathname.replace(/^\/push\//, ''));
      const body = Buffer.concat(chunks);
      let entry;
      try {
        const claims = verifyVapid(request.headers.authorization, { audience: service.origin, publicKey: vapidPublicKey });
        if (request.method !== 'POST') throw new Error(`method ${request.method}`);
        if (request.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${request.headers['content-encoding']}`);
        const ttl = Number(request.headers.ttl);
        if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`TTL ${request.headers.ttl}`);
        const topic = request.headers.topic;
        if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) throw new Error(`Topic ${topic}`);
        entry = { id, ttl, urgency: request.headers.urgency, topic, body, claims, at: performance.now() };
      } catch (error) {
        rejected.push({ id, error: error.message });
        response.writeHead(400).end(error.message);
        return;
      }
      const [status, headers] = queued.get(id)?.shift() ?? [201, {}];
      entry.status = status;
      received.push(entry);
      response.writeHead(status, { ...headers, ...(status === 201 ? { Location: `${service.origin}/message/${received.length}` } : {}) }).end();
      if (status === 201) service.forward?.(id, body);
      const ready = waiters.filter((waiter) => waiter.test(entry));
      waiters = waiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.resolve(entry);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  service.origin = `https://127.0.0.1:${server.address().port}`;
  service.endpoint = (id) => `${service.origin}/push/${encodeURIComponent(id)}`;
  service.answer = (id, status, headers = {}) => {
    const answers = queued.get(id) ?? [];
    answers.push([status, headers]);
    queued.set(id, answers);
  };
  /** The first push (already received or to come) that `test` accepts, skipping the first `after` received. */
  service.next = (test = () => true, { after = 0, timeoutMs = 10_000 } = {}) => {
    const seen = received.slice(after).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve };
      waiters.push(waiter);
      setTimeout(() => {
        waiters = waiters.filter((other) => other !== waiter);
        reject(new Error(`no push within ${timeoutMs} ms (rejected: ${JSON.stringify(rejected)})`));
      }, timeoutMs).unref();
    });
  };
  service.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return service;
}
