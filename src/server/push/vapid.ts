/**
 * VAPID keys (RFC 8292): one P-256 key pair that identifies this server to the push services.
 * Kept as web-push makes them: the public key as the uncompressed point (65 bytes), the private
 * key as the 32-byte scalar, both base64url. The public key is what browsers subscribe with.
 */
import { createECDH } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export interface VapidKeys {
  /** The uncompressed P-256 public point, base64url (87 characters). */
  publicKey: string;
  /** The P-256 private scalar, base64url (43 characters). */
  privateKey: string;
}

export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: ecdh.getPrivateKey().toString('base64url') };
}

/** Throws a TypeError unless `keys` is a matching pair in the form above. */
export function checkVapidKeys(keys: unknown): asserts keys is VapidKeys {
  const { publicKey, privateKey } = (keys ?? {}) as Partial<VapidKeys>;
  const base64url = /^[A-Za-z0-9_-]+$/;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string' || !base64url.test(publicKey) || !base64url.test(privateKey)) {
    throw new TypeError('push.vapidKeys: publicKey and privateKey must be base64url strings');
  }
  const ecdh = createECDH('prime256v1');
  try {
    const scalar = Buffer.from(privateKey, 'base64url');
    if (scalar.length !== 32) throw new Error('length');
    ecdh.setPrivateKey(scalar);
  } catch {
    throw new TypeError('push.vapidKeys: privateKey is not a P-256 private key (32 bytes, base64url)');
  }
  if (!ecdh.getPublicKey().equals(Buffer.from(publicKey, 'base64url'))) throw new TypeError('push.vapidKeys: publicKey does not belong to privateKey');
}

/** Writes a new key pair as JSON to `path`, readable by its owner only; refuses to overwrite. */
export function writeVapidKeyFile(path: string): VapidKeys {
  const keys = generateVapidKeys();
  writeFileSync(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return keys;
}

export function readVapidKeyFile(path: string): VapidKeys {
  const keys: unknown = JSON.parse(readFileSync(path, 'utf8'));
  checkVapidKeys(keys);
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
