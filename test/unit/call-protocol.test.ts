import { expect } from '@esm-bundle/chai';
import { PROTOCOL_VERSION, decodeMessage } from '../../src/core/protocol.js';
import { MAX_CALL_DATA_BYTES, MAX_CALL_MEMBERS } from '../../src/core/roster.js';

const call = { v: PROTOCOL_VERSION, kind: 'call', invitationID: 'alice:c1', seq: 3, rows: [{ id: 'bob', state: 'accepted', data: 'hi', rev: 4 }], members: ['alice', 'bob'] };

describe('protocol v3: call messages', () => {
  it('decodes a call message, its end and its ack', () => {
    expect(decodeMessage(call)).to.deep.equal({ ok: true, message: call });
    const ended = { ...call, ended: { data: 'bye', rev: 5 } };
    expect(decodeMessage(ended)).to.deep.equal({ ok: true, message: ended });
    const ack = { v: PROTOCOL_VERSION, kind: 'ack', of: 'call', invitationID: 'alice:c1', seq: 3 };
    expect(decodeMessage(ack)).to.deep.equal({ ok: true, message: ack });
  });

  it('refuses unknown states, repeated or invalid ids, oversized data, too many rows or members, a bad seq', () => {
    const bad = [
      { ...call, rows: [{ id: 'bob', state: 'ended', data: '', rev: 1 }] },
      { ...call, rows: [{ id: 'bob', state: 'accepted', data: '', rev: 1 }, { id: 'bob', state: 'quit', data: '', rev: 2 }] },
      { ...call, rows: [{ id: 'bo:b', state: 'accepted', data: '', rev: 1 }] },
      { ...call, rows: [{ id: 'bob', state: 'accepted', data: 'x'.repeat(MAX_CALL_DATA_BYTES + 1), rev: 1 }] },
      { ...call, rows: [{ id: 'bob', state: 'accepted', data: '', rev: 0 }] },
      { ...call, rows: Array.from({ length: MAX_CALL_MEMBERS + 1 }, (_, i) => ({ id: `u${i}`, state: 'inviting', data: '', rev: 1 })) },
      { ...call, members: Array.from({ length: MAX_CALL_MEMBERS + 1 }, (_, i) => `u${i}`) },
      { ...call, seq: -1 },
      { ...call, ended: { data: 1, rev: 2 } },
      { v: PROTOCOL_VERSION, kind: 'ack', of: 'call', invitationID: 'alice:c1' },
    ];
    for (const frame of bad) expect(decodeMessage(frame).ok, JSON.stringify(frame).slice(0, 100)).to.equal(false);
  });

  it("an invite's call field: decoded when valid, refused when not", () => {
    const invite = { v: PROTOCOL_VERSION, kind: 'invite', invitationID: 'alice:r1', inviterName: 'A', type: 0, data: '', remainingMs: 1000, speaks: 3 };
    expect(decodeMessage({ ...invite, call: { id: 'alice:c1', members: ['alice'] } })).to.deep.equal({ ok: true, message: { ...invite, call: { id: 'alice:c1', members: ['alice'] } } });
    expect(decodeMessage({ ...invite, call: { id: '', members: [] } }).ok).to.equal(false);
    expect(decodeMessage({ ...invite, call: 'x' }).ok).to.equal(false);
  });
});
