import { expect } from '@esm-bundle/chai';
import {
  HELLO,
  MAX_DATA_BYTES,
  MAX_INVITATION_ID_LENGTH,
  MAX_TEXT_BYTES,
  MAX_TIMEOUT_SECONDS,
  NOT_JSON,
  PING,
  PROTOCOL_VERSION,
  decodeMessage,
  encodedSize,
  isPing,
  isValidPeerId,
  utf8Length,
  type Message,
} from '../../src/core/protocol.js';

const invite = {
  v: PROTOCOL_VERSION,
  kind: 'invite',
  invitationID: 'inv-1',
  inviterName: 'Alice',
  type: 1,
  data: 'hello',
  remainingMs: 30_000,
};
const answerLike = (kind: 'cancel' | 'accept' | 'refuse') => ({ v: PROTOCOL_VERSION, kind, invitationID: 'inv-1', data: 'why', remainingMs: 1000 });

function accepted(frame: unknown): Message {
  const result = decodeMessage(frame);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(frame)?.slice(0, 120)} to decode, got: ${result.reason}`);
  return result.message;
}

function rejected(frame: unknown): string {
  const result = decodeMessage(frame);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.message).slice(0, 120)}`);
  expect(result.reason).to.be.a('string').and.not.equal('');
  return result.reason;
}

describe('protocol: decodeMessage accepts', () => {
  it('ping and hello', () => {
    expect(accepted({ v: PROTOCOL_VERSION, kind: 'ping' })).to.deep.equal(PING);
    expect(accepted({ v: PROTOCOL_VERSION, kind: 'hello' })).to.deep.equal(HELLO);
  });

  it('an ack of each outgoing kind', () => {
    for (const of of ['invite', 'cancel', 'accept', 'refuse'] as const) {
      expect(accepted({ v: PROTOCOL_VERSION, kind: 'ack', of, invitationID: 'x' })).to.deep.equal({ v: PROTOCOL_VERSION, kind: 'ack', of, invitationID: 'x' });
    }
  });

  it('an invite, with and without a notification', () => {
    expect(accepted(invite)).to.deep.equal(invite);
    const notification = { resourceID: 'r', title: 'Call', message: 'Alice is calling' };
    expect(accepted({ ...invite, notification })).to.deep.equal({ ...invite, notification });
    expect(accepted({ ...invite, notification: { title: 'only a title' } })).to.deep.equal({ ...invite, notification: { title: 'only a title' } });
    expect(accepted({ ...invite, notification: {} })).to.deep.equal({ ...invite, notification: {} });
  });

  it('cancel, accept and refuse', () => {
    for (const kind of ['cancel', 'accept', 'refuse'] as const) expect(accepted(answerLike(kind))).to.deep.equal(answerLike(kind));
  });

  it('empty data, negative and zero integer types, and the limits exactly', () => {
    expect(accepted({ ...invite, data: '' })).to.include({ data: '' });
    expect(accepted({ ...invite, type: 0 })).to.include({ type: 0 });
    expect(accepted({ ...invite, type: -7 })).to.include({ type: -7 });
    expect(accepted({ ...invite, type: Number.MAX_SAFE_INTEGER })).to.include({ type: Number.MAX_SAFE_INTEGER });
    expect(accepted({ ...invite, data: 'a'.repeat(MAX_DATA_BYTES) })).to.include({ data: 'a'.repeat(MAX_DATA_BYTES) });
    expect(accepted({ ...invite, inviterName: 'n'.repeat(MAX_TEXT_BYTES) })).to.include({ inviterName: 'n'.repeat(MAX_TEXT_BYTES) });
    const longID = 'i'.repeat(MAX_INVITATION_ID_LENGTH);
    expect(accepted({ ...invite, invitationID: longID })).to.include({ invitationID: longID });
    expect(accepted({ v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID: longID })).to.include({ invitationID: longID });
    expect(accepted({ ...invite, remainingMs: MAX_TIMEOUT_SECONDS * 1000 })).to.include({ remainingMs: 600_000 });
  });

  it('data at the byte limit in multibyte characters (2, 3 and 4 bytes each)', () => {
    for (const [char, bytes] of [['é', 2], ['€', 3], ['😀', 4]] as const) {
      const data = char.repeat(Math.floor(MAX_DATA_BYTES / bytes)) + 'a'.repeat(MAX_DATA_BYTES % bytes);
      expect(utf8Length(data)).to.equal(MAX_DATA_BYTES);
      expect(accepted({ ...invite, data })).to.include({ data });
    }
  });

  it('zero and negative remainingMs (an invite already expired on its way: acked, never rung)', () => {
    expect(accepted({ ...invite, remainingMs: 0 })).to.include({ remainingMs: 0 });
    expect(accepted(answerLike('cancel'))).to.include({ remainingMs: 1000 });
    expect(accepted({ ...answerLike('accept'), remainingMs: -5 })).to.include({ remainingMs: -5 });
    expect(accepted({ ...invite, remainingMs: 0.5 })).to.include({ remainingMs: 0.5 });
  });

  it('keeps only the known fields, in a new object', () => {
    const frame = { ...invite, extra: 'x', notification: { title: 't', icon: 'evil.png' } };
    const message = accepted(frame);
    expect(message).to.not.equal(frame);
    expect(message).to.deep.equal({ ...invite, notification: { title: 't' } });
    expect(accepted({ v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: 'x', data: 'y' })).to.deep.equal({ v: PROTOCOL_VERSION, kind: 'ack', of: 'accept', invitationID: 'x' });
    expect(accepted({ v: PROTOCOL_VERSION, kind: 'hello', junk: true })).to.deep.equal(HELLO);
    expect(accepted({ ...answerLike('refuse'), inviterName: 'x', type: 3 })).to.deep.equal(answerLike('refuse'));
  });

  it('an object without a prototype', () => {
    const frame = Object.assign(Object.create(null) as Record<string, unknown>, invite);
    expect(accepted(frame)).to.deep.equal(invite);
  });
});

describe('protocol: decodeMessage rejects', () => {
  it('anything that is not a plain object', () => {
    for (const frame of [undefined, null, 0, 1, NaN, true, '', 'invite', JSON.stringify(invite), [], [invite], () => invite, Symbol('x')]) rejected(frame);
  });

  it("the transport's marker for a frame that was not JSON", () => {
    expect(rejected(NOT_JSON)).to.contain('JSON');
  });

  it('another protocol version, or none', () => {
    for (const v of [undefined, 0, 1, 3, '2', 1.5, null, true]) rejected({ ...invite, v });
    const { v: _v, ...noVersion } = invite;
    rejected(noVersion);
    rejected({ kind: 'ping' });
    rejected({ v: PROTOCOL_VERSION + 1, kind: 'ping' });
  });

  it('an unknown or missing kind', () => {
    for (const kind of [undefined, null, '', 'INVITE', 'answer', 'ack ', 'toString', '__proto__', 5, {}]) rejected({ ...invite, kind });
  });

  it('an ack of an unknown kind or without a valid invitationID', () => {
    for (const of of [undefined, 'ack', 'hello', 'ping', 'INVITE', 1]) rejected({ v: PROTOCOL_VERSION, kind: 'ack', of, invitationID: 'x' });
    for (const invitationID of [undefined, '', 7, null, 'i'.repeat(MAX_INVITATION_ID_LENGTH + 1)]) rejected({ v: PROTOCOL_VERSION, kind: 'ack', of: 'invite', invitationID });
  });

  it('an invitationID that is missing, empty, not a string or too long', () => {
    for (const base of [invite, answerLike('cancel'), answerLike('accept'), answerLike('refuse')]) {
      for (const invitationID of [undefined, '', 7, null, ['x'], 'i'.repeat(MAX_INVITATION_ID_LENGTH + 1)]) rejected({ ...base, invitationID });
    }
  });

  it('data that is missing, not a string, or over 8 KiB of UTF-8', () => {
    for (const base of [invite, answerLike('cancel'), answerLike('accept'), answerLike('refuse')]) {
      for (const data of [undefined, null, 5, ['x'], { text: 'x' }]) rejected({ ...base, data });
      rejected({ ...base, data: 'a'.repeat(MAX_DATA_BYTES + 1) });
      // Under the limit in UTF-16 units, over it in UTF-8 bytes.
      rejected({ ...base, data: 'é'.repeat(MAX_DATA_BYTES / 2 + 1) });
      rejected({ ...base, data: '€'.repeat(Math.floor(MAX_DATA_BYTES / 3) + 1) });
      rejected({ ...base, data: '😀'.repeat(MAX_DATA_BYTES / 4 + 1) });
    }
  });

  it('a remainingMs that is missing, not a finite number, or over 600 s', () => {
    for (const base of [invite, answerLike('cancel'), answerLike('accept'), answerLike('refuse')]) {
      for (const remainingMs of [undefined, null, '1000', NaN, Infinity, -Infinity, MAX_TIMEOUT_SECONDS * 1000 + 1, 1e12, [1000]]) {
        rejected({ ...base, remainingMs });
      }
    }
  });

  it('an invite with an invalid inviterName', () => {
    for (const inviterName of [undefined, null, 3, { name: 'x' }, 'n'.repeat(MAX_TEXT_BYTES + 1), 'é'.repeat(MAX_TEXT_BYTES / 2 + 1)]) {
      rejected({ ...invite, inviterName });
    }
  });

  it('an invite whose type is not a safe integer', () => {
    for (const type of [undefined, null, '1', 1.5, NaN, Infinity, -Infinity, 2 ** 53, true, [1]]) rejected({ ...invite, type });
  });

  it('an invite with a malformed notification', () => {
    for (const notification of [null, 'Call', 5, true, [], [{ title: 'x' }]]) rejected({ ...invite, notification });
    for (const field of ['resourceID', 'title', 'message']) {
      for (const value of [null, 5, {}, ['x'], 'x'.repeat(MAX_TEXT_BYTES + 1), '€'.repeat(Math.floor(MAX_TEXT_BYTES / 3) + 1)]) {
        rejected({ ...invite, notification: { [field]: value } });
      }
    }
  });
});

describe('protocol: sizes and ids', () => {
  it('encodedSize is the UTF-8 length of the JSON text', () => {
    expect(encodedSize(HELLO)).to.equal('{"v":1,"kind":"hello"}'.length);
    const message: Message = { v: PROTOCOL_VERSION, kind: 'accept', invitationID: 'x', data: 'é😀"\u0001', remainingMs: 5 };
    expect(encodedSize(message)).to.equal(new TextEncoder().encode(JSON.stringify(message)).byteLength);
    // JSON escaping counts: a quote costs two bytes, a control character six.
    const quotes: Message = { ...message, data: '"'.repeat(100) };
    const plain: Message = { ...message, data: 'a'.repeat(100) };
    expect(encodedSize(quotes) - encodedSize(plain)).to.equal(100);
    const controls: Message = { ...message, data: '\u0001'.repeat(100) };
    expect(encodedSize(controls) - encodedSize(plain)).to.equal(500);
  });

  it('utf8Length counts bytes, not UTF-16 units', () => {
    expect(utf8Length('')).to.equal(0);
    expect(utf8Length('abc')).to.equal(3);
    expect(utf8Length('é')).to.equal(2);
    expect(utf8Length('€')).to.equal(3);
    expect(utf8Length('😀')).to.equal(4);
  });

  it('utf8Length agrees with TextEncoder, short texts and long, lone surrogates included', () => {
    const pieces = ['a', 'é', '€', '😀', '\ud800', '\udc00', '\ud800a', 'a\udfff'];
    const texts = [...pieces, pieces.join(''), '\ud83d', ...pieces.map((piece) => piece.repeat(40)), `${'x'.repeat(31)}😀`, `${'x'.repeat(30)}\ud83d`];
    for (const text of texts) expect(utf8Length(text), JSON.stringify(text)).to.equal(new TextEncoder().encode(text).byteLength);
  });

  it('isValidPeerId follows PeerJS: letters and digits, single separators between them', () => {
    for (const id of ['a', 'Z', '7', 'alice', 'Alice42', 'a-b', 'a_b', 'a b', 'a-b_c d', 'x'.repeat(200)]) expect(isValidPeerId(id), id).to.equal(true);
    for (const id of ['', ' ', '-a', 'a-', '_a', 'a_', ' a', 'a ', 'a--b', 'a  b', 'a-_b', 'a.b', 'a@b', 'é', 'a\nb', 'a\tb', 'a/b']) {
      expect(isValidPeerId(id), JSON.stringify(id)).to.equal(false);
    }
  });

  it('isPing recognizes only a ping of this version', () => {
    expect(isPing(PING)).to.equal(true);
    expect(isPing({ v: PROTOCOL_VERSION, kind: 'ping', extra: 1 })).to.equal(true);
    expect(isPing({ v: PROTOCOL_VERSION + 1, kind: 'ping' })).to.equal(false);
    expect(isPing(HELLO)).to.equal(false);
    expect(isPing('ping')).to.equal(false);
    expect(isPing(null)).to.equal(false);
    expect(isPing([PING])).to.equal(false);
  });
});
