import { expect } from '@esm-bundle/chai';
import { InvitationError, type InvitationErrorCode } from '../../src/errors.js';
import { MAX_DATA_BYTES, MAX_TEXT_BYTES } from '../../src/core/protocol.js';
import type { SendInvitationParams } from '../../src/api/calls.js';
import { MAX_INVITEES, MAX_USER_ID_LENGTH, checkInvitation, checkInvitationID, checkText, checkUserId, type CheckedInvitation } from '../../src/core/validate.js';

const SELF = 'alice';
const base: SendInvitationParams = { inviterName: 'Alice', invitees: ['bob'], timeout: 30, type: 1, data: 'hi' };

function check(patch: Record<string, unknown>): CheckedInvitation | InvitationError {
  return checkInvitation({ ...base, ...patch } as SendInvitationParams, SELF);
}

function ok(patch: Record<string, unknown> = {}): CheckedInvitation {
  const result = check(patch);
  if (result instanceof InvitationError) throw new Error(`expected a valid invitation, got ${result.code}: ${result.message}`);
  return result;
}

function fails(patch: Record<string, unknown>, code: InvitationErrorCode = 'INVALID_ARGUMENT'): InvitationError {
  const result = check(patch);
  expect(result, JSON.stringify(patch).slice(0, 100)).to.be.instanceOf(InvitationError);
  expect((result as InvitationError).code).to.equal(code);
  expect((result as InvitationError).message).to.not.equal('');
  return result as InvitationError;
}

describe('validate: checkInvitation', () => {
  it('returns the cleaned invitation', () => {
    const notificationConfig = { notifyWhenAppIsInTheBackgroundOrQuit: true, title: 'Call' };
    expect(ok({ notificationConfig })).to.deep.equal({
      inviterName: 'Alice',
      invitees: ['bob'],
      errorInvitees: {},
      timeoutMs: 30_000,
      type: 1,
      data: 'hi',
      notificationConfig,
    });
  });

  it('defaults missing data to the empty string', () => {
    expect(ok({ data: undefined }).data).to.equal('');
  });

  it('drops empty entries and collapses duplicates, keeping the first order', () => {
    const result = ok({ invitees: ['', 'carol', null, 'bob', undefined, 'carol', 'bob', ''] });
    expect(result.invitees).to.deep.equal(['carol', 'bob']);
    expect(result.errorInvitees).to.deep.equal({});
  });

  it("sets self aside as 'self' and bad ids as 'invalid-id'", () => {
    const longest = 'x'.repeat(MAX_USER_ID_LENGTH);
    const tooLong = 'x'.repeat(MAX_USER_ID_LENGTH + 1);
    const result = ok({ invitees: ['bob', SELF, 'bad id!', ' bob', 'a--b', tooLong, longest, 'é', SELF] });
    expect(result.invitees).to.deep.equal(['bob', longest]);
    expect(result.errorInvitees).to.deep.equal({
      [SELF]: 'self',
      'bad id!': 'invalid-id',
      ' bob': 'invalid-id',
      'a--b': 'invalid-id',
      [tooLong]: 'invalid-id',
      é: 'invalid-id',
    });
  });

  it('leaves no invitee when only empty, self and invalid entries are given (the plugin then says EMPTY_INVITEES)', () => {
    const result = ok({ invitees: ['', SELF, 'no!', null] });
    expect(result.invitees).to.deep.equal([]);
    expect(result.errorInvitees).to.deep.equal({ [SELF]: 'self', 'no!': 'invalid-id' });
    expect(ok({ invitees: [] }).invitees).to.deep.equal([]);
  });

  it('refuses invitees that are not an array of strings', () => {
    for (const invitees of ['bob', undefined, null, { 0: 'bob' }, 5]) fails({ invitees });
    for (const entry of [5, 0, false, {}, ['bob']]) fails({ invitees: ['bob', entry] });
  });

  it(`takes at most ${MAX_INVITEES} distinct invitees`, () => {
    const ids = Array.from({ length: MAX_INVITEES }, (_, index) => `user${index}`);
    expect(ok({ invitees: ids }).invitees).to.have.length(MAX_INVITEES);
    expect(ok({ invitees: [...ids, ...ids, SELF, ''] }).invitees).to.have.length(MAX_INVITEES);
    fails({ invitees: [...ids, 'one-more'] });
  });

  it('takes a timeout above 0 and up to 600 seconds, fractions included, in whole milliseconds', () => {
    expect(ok({ timeout: 600 }).timeoutMs).to.equal(600_000);
    expect(ok({ timeout: 1.5 }).timeoutMs).to.equal(1500);
    expect(ok({ timeout: 0.25 }).timeoutMs).to.equal(250);
    expect(ok({ timeout: 0.001 }).timeoutMs).to.equal(1);
    expect(ok({ timeout: 0.0004 }).timeoutMs).to.equal(1);
    expect(ok({ timeout: 2.0004 }).timeoutMs).to.equal(2000);
    for (const timeout of [0, -1, -0.5, 600.001, 601, NaN, Infinity, -Infinity, '30', undefined, null, [30]]) fails({ timeout });
  });

  it('takes an integer type only', () => {
    expect(ok({ type: 0 }).type).to.equal(0);
    expect(ok({ type: -3 }).type).to.equal(-3);
    for (const type of [1.5, NaN, Infinity, '1', undefined, null, 2 ** 53, true]) fails({ type });
  });

  it('takes data up to 8 KiB of UTF-8 and answers DATA_TOO_LARGE above it, counting multibyte characters', () => {
    expect(ok({ data: 'a'.repeat(MAX_DATA_BYTES) }).data).to.have.length(MAX_DATA_BYTES);
    expect(ok({ data: 'é'.repeat(MAX_DATA_BYTES / 2) }).data).to.have.length(MAX_DATA_BYTES / 2);
    expect(ok({ data: '😀'.repeat(MAX_DATA_BYTES / 4) }).data).to.have.length(MAX_DATA_BYTES / 2);
    fails({ data: 'a'.repeat(MAX_DATA_BYTES + 1) }, 'DATA_TOO_LARGE');
    // 4097 characters but 8194 bytes.
    fails({ data: 'é'.repeat(MAX_DATA_BYTES / 2 + 1) }, 'DATA_TOO_LARGE');
    fails({ data: '€'.repeat(Math.floor(MAX_DATA_BYTES / 3) + 1) }, 'DATA_TOO_LARGE');
    fails({ data: `${'a'.repeat(MAX_DATA_BYTES - 1)}é` }, 'DATA_TOO_LARGE');
    for (const data of [5, null, {}, ['x']]) fails({ data });
  });

  it('takes an inviterName string of at most 1 KiB of UTF-8', () => {
    expect(ok({ inviterName: '' }).inviterName).to.equal('');
    expect(ok({ inviterName: 'é'.repeat(MAX_TEXT_BYTES / 2) }).inviterName).to.have.length(MAX_TEXT_BYTES / 2);
    fails({ inviterName: 'n'.repeat(MAX_TEXT_BYTES + 1) });
    fails({ inviterName: 'é'.repeat(MAX_TEXT_BYTES / 2 + 1) });
    for (const inviterName of [undefined, null, 5, { name: 'Alice' }]) fails({ inviterName });
  });

  it('checks the shape of notificationConfig', () => {
    expect(ok({ notificationConfig: undefined }).notificationConfig).to.equal(undefined);
    expect(ok({ notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: false } }).notificationConfig).to.deep.equal({ notifyWhenAppIsInTheBackgroundOrQuit: false });
    const full = { notifyWhenAppIsInTheBackgroundOrQuit: true, resourceID: 'res', title: 'Call', message: 'Alice calls' };
    expect(ok({ notificationConfig: full }).notificationConfig).to.deep.equal(full);
    for (const notificationConfig of [null, 'yes', true, 5, {}, { notifyWhenAppIsInTheBackgroundOrQuit: 'true' }, { notifyWhenAppIsInTheBackgroundOrQuit: 1 }]) {
      fails({ notificationConfig });
    }
    for (const field of ['resourceID', 'title', 'message']) {
      for (const value of [5, null, {}, 'x'.repeat(MAX_TEXT_BYTES + 1)]) fails({ notificationConfig: { notifyWhenAppIsInTheBackgroundOrQuit: true, [field]: value } });
    }
  });

  it('refuses a missing parameters object without throwing', () => {
    for (const params of [undefined, null, 'bob', 5]) {
      const result = checkInvitation(params as unknown as SendInvitationParams, SELF);
      expect(result).to.be.instanceOf(InvitationError);
      expect((result as InvitationError).code).to.equal('INVALID_ARGUMENT');
    }
  });
});

describe('validate: checkUserId, checkText, checkInvitationID', () => {
  it('checkUserId takes 1 to 64 PeerJS-valid characters', () => {
    for (const id of ['a', 'alice', 'Alice 2', 'a-b_c', 'x'.repeat(MAX_USER_ID_LENGTH)]) expect(checkUserId(id), id).to.equal(undefined);
    for (const id of ['', 'x'.repeat(MAX_USER_ID_LENGTH + 1), ' alice', 'alice ', 'a--b', 'a.b', 'é', 42, undefined, null, {}, ['alice']]) {
      const error = checkUserId(id);
      expect(error, String(id)).to.be.instanceOf(InvitationError);
      expect(error!.code).to.equal('INVALID_ARGUMENT');
    }
  });

  it('checkText takes strings up to the byte limit; DATA_TOO_LARGE only for the data limit', () => {
    expect(checkText('name', '')).to.equal(undefined);
    expect(checkText('name', 'n'.repeat(MAX_TEXT_BYTES))).to.equal(undefined);
    expect(checkText('name', 'n'.repeat(MAX_TEXT_BYTES + 1))!.code).to.equal('INVALID_ARGUMENT');
    expect(checkText('name', 5)!.code).to.equal('INVALID_ARGUMENT');
    expect(checkText('name', undefined)!.code).to.equal('INVALID_ARGUMENT');
    expect(checkText('data', 'd'.repeat(MAX_DATA_BYTES), MAX_DATA_BYTES)).to.equal(undefined);
    expect(checkText('data', 'd'.repeat(MAX_DATA_BYTES + 1), MAX_DATA_BYTES)!.code).to.equal('DATA_TOO_LARGE');
    expect(checkText('data', '😀'.repeat(MAX_DATA_BYTES / 4 + 1), MAX_DATA_BYTES)!.code).to.equal('DATA_TOO_LARGE');
    expect(checkText('small', 'abcd', 3)!.code).to.equal('INVALID_ARGUMENT');
    expect(checkText('name', 'n'.repeat(MAX_TEXT_BYTES + 1))!.message).to.contain('name');
  });

  it('checkInvitationID takes any non-empty string', () => {
    expect(checkInvitationID('x')).to.equal(undefined);
    expect(checkInvitationID('some id with spaces')).to.equal(undefined);
    for (const id of ['', undefined, null, 5, {}]) expect(checkInvitationID(id)!.code).to.equal('INVALID_ARGUMENT');
  });
});
