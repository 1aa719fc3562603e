// The least of a TURN client (RFC 5766 Allocate over UDP, long-term credentials), to check in
// Node that a real turnserver accepts the credentials the companion server hands out.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ALLOCATE_ERROR = 0x0113;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, XOR_RELAYED_ADDRESS: 0x0016, REALM: 0x0014, NONCE: 0x0015, REQUESTED_TRANSPORT: 0x0019 };

function attribute(type, value) {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function message(type, transactionId, attributes, key) {
  let body = Buffer.concat(attributes);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  transactionId.copy(header, 8);
  if (key) {
    // MESSAGE-INTEGRITY covers the message with its length already counting the integrity attribute.
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', key).update(Buffer.concat([header, body])).digest();
    body = Buffer.concat([body, attribute(ATTR.MESSAGE_INTEGRITY, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function parse(buffer) {
  const attributes = new Map();
  for (let offset = 20; offset + 4 <= buffer.length; ) {
    const type = buffer.readUInt16BE(offset);
    const length = buffer.readUInt16BE(offset + 2);
    attributes.set(type, buffer.subarray(offset + 4, offset + 4 + length));
    offset += 4 + Math.ceil(length / 4) * 4;
  }
  return { type: buffer.readUInt16BE(0), transactionId: buffer.subarray(8, 20), attributes };
}

function errorCode(attributes) {
  const value = attributes.get(ATTR.ERROR_CODE);
  return value ? value[2] * 100 + value[3] : undefined;
}

/**
 * Asks `host:port` for a relayed address with `username`/`credential`. Resolves
 * `{ ok: true, relayed: 'ip:port' }` or `{ ok: false, code }` (401: credentials refused).
 */
export function allocate({ host, port, username, credential, timeoutMs = 5000 }) {
  const socket = createSocket('udp4');
  const exchange = (request) =>
    new Promise((resolve, reject) => {
      const id = request.subarray(8, 20);
      const onMessage = (data) => {
        const reply = parse(data);
        if (!reply.transactionId.equals(id)) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(reply);
      };
      const timer = setTimeout(() => {
        socket.off('message', onMessage);
        reject(new Error(`no answer from ${host}:${port}`));
      }, timeoutMs);
      socket.on('message', onMessage);
      socket.send(request, port, host);
    });
  const transport = attribute(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
  return (async () => {
    try {
      const challenge = await exchange(message(ALLOCATE, randomBytes(12), [transport]));
      if (challenge.type !== ALLOCATE_ERROR || errorCode(challenge.attributes) !== 401) return { ok: false, code: errorCode(challenge.attributes), step: 'challenge' };
      const realm = challenge.attributes.get(ATTR.REALM);
      const nonce = challenge.attributes.get(ATTR.NONCE);
      const key = createHash('md5').update(`${username}:${realm.toString()}:${credential}`).digest();
      const attributes = [transport, attribute(ATTR.USERNAME, Buffer.from(username)), attribute(ATTR.REALM, realm), attribute(ATTR.NONCE, nonce)];
      const reply = await exchange(message(ALLOCATE, randomBytes(12), attributes, key));
      if (reply.type !== ALLOCATE_SUCCESS) return { ok: false, code: errorCode(reply.attributes) };
      const xor = reply.attributes.get(ATTR.XOR_RELAYED_ADDRESS);
      const relayedPort = xor.readUInt16BE(2) ^ (MAGIC >>> 16);
      const ip = [0, 1, 2, 3].map((i) => xor[4 + i] ^ ((MAGIC >>> (24 - 8 * i)) & 0xff)).join('.');
      return { ok: true, relayed: `${ip}:${relayedPort}` };
    } finally {
      socket.close();
    }
  })();
}
