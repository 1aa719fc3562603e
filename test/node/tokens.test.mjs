// signToken / verifyToken from the built server entry (dist/server/, `npm run build`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signToken, verifyToken } from '../../dist/server/index.js';

const secret = 'a secret of more than sixteen bytes';

describe('signToken and verifyToken', () => {
  it('accepts a token for its user until it expires', { timeout: 10_000 }, () => {
    const now = Date.UTC(2026, 0, 1);
    const token = signToken({ secret, userId: 'alice', expiresInSeconds: 60, now });
    assert.equal(verifyToken({ secret, userId: 'alice', token, now }), true);
    assert.equal(verifyToken({ secret, userId: 'alice', token, now: now + 59_000 }), true);
    assert.equal(verifyToken({ secret, userId: 'alice', token, now: now + 60_000 }), false);
  });

  it('refuses another user, another secret, and any changed character', { timeout: 10_000 }, () => {
    const token = signToken({ secret, userId: 'alice', expiresInSeconds: 60 });
    assert.equal(verifyToken({ secret, userId: 'bob', token }), false);
    assert.equal(verifyToken({ secret: `${secret}!`, userId: 'alice', token }), false);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let index = 0; index < token.length; index++) {
      if (token[index] === '.') continue;
      const replacement = alphabet[(alphabet.indexOf(token[index]) + 1) % alphabet.length];
      const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
      assert.equal(verifyToken({ secret, userId: 'alice', token: tampered }), false, `changed at ${index}`);
    }
    // A later expiry with the old signature is a changed token too.
    const [expiry, nonce, mac] = token.split('.');
    assert.equal(verifyToken({ secret, userId: 'alice', token: `${Number(expiry) + 3600}.${nonce}.${mac}` }), false);
  });

  it('refuses what is not a token', { timeout: 10_000 }, () => {
    for (const token of ['', 'forged', 'a.b.c', '1.2.3.4', undefined, null, 42]) {
      assert.equal(verifyToken({ secret, userId: 'alice', token }), false, String(token));
    }
  });

  it('makes unique, URL-safe tokens', { timeout: 10_000 }, () => {
    const tokens = new Set(Array.from({ length: 50 }, () => signToken({ secret, userId: 'alice', expiresInSeconds: 60 })));
    assert.equal(tokens.size, 50);
    for (const token of tokens) assert.match(token, /^[0-9A-Za-z_.-]+$/);
  });

  it('takes the secret as bytes too, and refuses a short one or a bad expiry', { timeout: 10_000 }, () => {
    const bytes = new Uint8Array(32).fill(7);
    const token = signToken({ secret: bytes, userId: 'alice', expiresInSeconds: 60 });
    assert.equal(verifyToken({ secret: bytes, userId: 'alice', token }), true);
    assert.throws(() => signToken({ secret: 'short', userId: 'alice', expiresInSeconds: 60 }), TypeError);
    assert.throws(() => verifyToken({ secret: 'short', userId: 'alice', token }), TypeError);
    assert.throws(() => signToken({ secret, userId: 'alice', expiresInSeconds: 0 }), TypeError);
    assert.throws(() => signToken({ secret, userId: '', expiresInSeconds: 60 }), TypeError);
  });
});
