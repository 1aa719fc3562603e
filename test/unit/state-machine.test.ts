import { expect } from '@esm-bundle/chai';
import type { InvitationErrorCode } from '../../src/errors.js';
import { isAnswerable, refusalCode, transition, type Leg, type LegEvent, type LegState } from '../../src/core/state-machine.js';

const CREATED = 1_000;
const DEADLINE = 31_000;
const BEFORE = 10_000;

function inviterLeg(patch: Partial<Leg> = {}): Leg {
  return deepFreeze({
    invitationID: 'inv-1',
    peer: 'bob',
    role: 'inviter',
    state: 'queued',
    inviterName: 'Alice',
    type: 1,
    data: 'hi',
    createTime: CREATED,
    deadline: DEADLINE,
    outbox: 'invite',
    outboxData: '',
    wired: false,
    ...patch,
  });
}

function inviteeLeg(patch: Partial<Leg> = {}): Leg {
  return deepFreeze({
    invitationID: 'inv-1',
    peer: 'alice',
    role: 'invitee',
    state: 'ringing',
    inviterName: 'Alice',
    type: 1,
    data: 'hi',
    createTime: CREATED,
    deadline: DEADLINE,
    outbox: null,
    outboxData: '',
    wired: true,
    ...patch,
  });
}

/** Legs are frozen: a transition that mutated its input would throw. */
function deepFreeze<T extends object>(value: T): T {
  for (const field of Object.values(value)) if (typeof field === 'object' && field !== null) deepFreeze(field);
  return Object.freeze(value) as T;
}

function moves(leg: Leg, event: LegEvent, now = BEFORE): Leg {
  const result = transition(leg, event, now);
  if (!result.ok) throw new Error(`expected ${event.type} on ${leg.role}/${leg.state} to move, got ${result.code}`);
  expect(result.changed).to.equal(true);
  expect(result.leg).to.not.equal(leg);
  return result.leg;
}

function stays(leg: Leg, event: LegEvent, now = BEFORE): void {
  const result = transition(leg, event, now);
  if (!result.ok) throw new Error(`expected ${event.type} on ${leg.role}/${leg.state} to be a no-op, got ${result.code}`);
  expect(result.changed).to.equal(false);
  expect(result.leg).to.equal(leg);
}

function refuses(leg: Leg, event: LegEvent, code: InvitationErrorCode, now = BEFORE): void {
  const result = transition(leg, event, now);
  expect(result, `${event.type} on ${leg.role}/${leg.state}`).to.deep.equal({ ok: false, code });
}

describe('state machine: helpers', () => {
  it('isAnswerable holds for queued, delivered and ringing only', () => {
    const states: LegState[] = ['queued', 'delivered', 'ringing', 'accepted', 'refused', 'canceled', 'timeout'];
    expect(states.filter(isAnswerable)).to.deep.equal(['queued', 'delivered', 'ringing']);
  });

  it('refusalCode names why a settled leg cannot move', () => {
    expect(refusalCode('accepted')).to.equal('ALREADY_RESPONDED');
    expect(refusalCode('refused')).to.equal('ALREADY_RESPONDED');
    expect(refusalCode('canceled')).to.equal('CANCELED');
    expect(refusalCode('timeout')).to.equal('EXPIRED');
  });
});

describe('state machine: inviter leg', () => {
  it('wired marks the invite as possibly known to the invitee, once', () => {
    const wired = moves(inviterLeg(), { type: 'wired' });
    expect(wired).to.deep.equal({ ...inviterLeg(), wired: true });
    stays(wired, { type: 'wired' });
  });

  it('queued → delivered on the ack of the invite, which clears the outbox', () => {
    const leg = moves(inviterLeg(), { type: 'acked', of: 'invite' });
    expect(leg).to.deep.equal({ ...inviterLeg(), state: 'delivered', outbox: null, wired: true });
  });

  it('ignores an ack of something it does not owe', () => {
    stays(inviterLeg(), { type: 'acked', of: 'cancel' });
    stays(inviterLeg({ state: 'delivered', outbox: null, wired: true }), { type: 'acked', of: 'invite' });
    stays(inviterLeg({ state: 'canceled', outbox: 'cancel', wired: true }), { type: 'acked', of: 'invite' });
  });

  it('an ack of the cancel clears the outbox and keeps canceled', () => {
    const leg = moves(inviterLeg({ state: 'canceled', outbox: 'cancel', outboxData: 'bye', wired: true }), { type: 'acked', of: 'cancel' });
    expect(leg).to.include({ state: 'canceled', outbox: null, outboxData: '' });
  });

  for (const from of ['queued', 'delivered'] as const) {
    it(`${from} → accepted or refused when the answer arrives, clearing any owed invite`, () => {
      const start = inviterLeg(from === 'queued' ? {} : { state: 'delivered', outbox: null, wired: true });
      expect(moves(start, { type: 'answer-received', answer: 'accept' })).to.deep.equal({ ...start, state: 'accepted', outbox: null, wired: true });
      expect(moves(start, { type: 'answer-received', answer: 'refuse' })).to.deep.equal({ ...start, state: 'refused', outbox: null, wired: true });
    });
  }

  it('refuses a second answer, an answer after cancel, timeout or deadline', () => {
    const accept: LegEvent = { type: 'answer-received', answer: 'accept' };
    refuses(inviterLeg({ state: 'accepted', outbox: null }), accept, 'ALREADY_RESPONDED');
    refuses(inviterLeg({ state: 'refused', outbox: null }), { type: 'answer-received', answer: 'refuse' }, 'ALREADY_RESPONDED');
    refuses(inviterLeg({ state: 'canceled', outbox: 'cancel', wired: true }), accept, 'CANCELED');
    refuses(inviterLeg({ state: 'timeout', outbox: null }), accept, 'EXPIRED');
    refuses(inviterLeg({ state: 'delivered', outbox: null }), accept, 'EXPIRED', DEADLINE);
    refuses(inviterLeg(), accept, 'EXPIRED', DEADLINE + 1);
    expect(transition(inviterLeg(), accept, DEADLINE - 1).ok).to.equal(true);
  });

  it('cancel of an invite that never reached a channel owes no cancel message', () => {
    const leg = moves(inviterLeg(), { type: 'cancel', data: 'sorry' });
    expect(leg).to.include({ state: 'canceled', outbox: null, wired: false });
  });

  it('cancel of an invite that may have arrived owes a cancel carrying the data', () => {
    const queuedWired = moves(inviterLeg({ wired: true }), { type: 'cancel', data: 'sorry' });
    expect(queuedWired).to.include({ state: 'canceled', outbox: 'cancel', outboxData: 'sorry' });
    const delivered = moves(inviterLeg({ state: 'delivered', outbox: null, wired: true }), { type: 'cancel', data: '' });
    expect(delivered).to.include({ state: 'canceled', outbox: 'cancel', outboxData: '' });
  });

  it('refuses cancel after an answer, a cancel, a timeout or the deadline', () => {
    const cancel: LegEvent = { type: 'cancel', data: '' };
    refuses(inviterLeg({ state: 'accepted', outbox: null }), cancel, 'ALREADY_RESPONDED');
    refuses(inviterLeg({ state: 'refused', outbox: null }), cancel, 'ALREADY_RESPONDED');
    refuses(inviterLeg({ state: 'canceled', outbox: null }), cancel, 'CANCELED');
    refuses(inviterLeg({ state: 'timeout', outbox: null }), cancel, 'EXPIRED');
    refuses(inviterLeg(), cancel, 'EXPIRED', DEADLINE);
  });

  it('deadline: queued or delivered → timeout with the outbox cleared', () => {
    expect(moves(inviterLeg(), { type: 'deadline' }, DEADLINE)).to.deep.equal({ ...inviterLeg(), state: 'timeout', outbox: null, outboxData: '' });
    const delivered = inviterLeg({ state: 'delivered', outbox: null, wired: true });
    expect(moves(delivered, { type: 'deadline' }, DEADLINE + 5)).to.include({ state: 'timeout', outbox: null });
  });

  it('deadline before its time, or on a settled leg that owes nothing, changes nothing', () => {
    stays(inviterLeg(), { type: 'deadline' }, DEADLINE - 1);
    stays(inviterLeg({ state: 'accepted', outbox: null }), { type: 'deadline' }, DEADLINE);
    stays(inviterLeg({ state: 'timeout', outbox: null }), { type: 'deadline' }, DEADLINE + 1000);
  });

  it('deadline drops a cancel still owed, and keeps canceled', () => {
    const leg = moves(inviterLeg({ state: 'canceled', outbox: 'cancel', outboxData: 'bye', wired: true }), { type: 'deadline' }, DEADLINE);
    expect(leg).to.include({ state: 'canceled', outbox: null, outboxData: '' });
  });

  it('refuses the invitee-only events', () => {
    refuses(inviterLeg(), { type: 'answer', answer: 'accept', data: '' }, 'PROTOCOL_VIOLATION');
    refuses(inviterLeg(), { type: 'cancel-received' }, 'PROTOCOL_VIOLATION');
  });
});

describe('state machine: invitee leg', () => {
  it('ringing → accepted or refused, owing the answer with its data', () => {
    expect(moves(inviteeLeg(), { type: 'answer', answer: 'accept', data: 'yes' })).to.deep.equal({ ...inviteeLeg(), state: 'accepted', outbox: 'accept', outboxData: 'yes' });
    expect(moves(inviteeLeg(), { type: 'answer', answer: 'refuse', data: 'busy' })).to.deep.equal({ ...inviteeLeg(), state: 'refused', outbox: 'refuse', outboxData: 'busy' });
  });

  it('a second answer is ALREADY_RESPONDED', () => {
    const accepted = moves(inviteeLeg(), { type: 'answer', answer: 'accept', data: '' });
    refuses(accepted, { type: 'answer', answer: 'accept', data: '' }, 'ALREADY_RESPONDED');
    refuses(accepted, { type: 'answer', answer: 'refuse', data: '' }, 'ALREADY_RESPONDED');
    const refused = moves(inviteeLeg(), { type: 'answer', answer: 'refuse', data: '' });
    refuses(refused, { type: 'answer', answer: 'accept', data: '' }, 'ALREADY_RESPONDED');
  });

  it('an answer after the cancel arrived is CANCELED', () => {
    const canceled = moves(inviteeLeg(), { type: 'cancel-received' });
    expect(canceled).to.deep.equal({ ...inviteeLeg(), state: 'canceled' });
    refuses(canceled, { type: 'answer', answer: 'accept', data: '' }, 'CANCELED');
  });

  it('an answer at or after the deadline is EXPIRED, even before the deadline event ran', () => {
    refuses(inviteeLeg(), { type: 'answer', answer: 'accept', data: '' }, 'EXPIRED', DEADLINE);
    refuses(inviteeLeg(), { type: 'answer', answer: 'refuse', data: '' }, 'EXPIRED', DEADLINE + 1);
    const timedOut = moves(inviteeLeg(), { type: 'deadline' }, DEADLINE);
    expect(timedOut).to.include({ state: 'timeout', outbox: null });
    refuses(timedOut, { type: 'answer', answer: 'accept', data: '' }, 'EXPIRED', DEADLINE);
  });

  it('a cancel that crosses an unacknowledged answer wins, and the answer is no longer owed', () => {
    const accepted = inviteeLeg({ state: 'accepted', outbox: 'accept', outboxData: 'yes' });
    expect(moves(accepted, { type: 'cancel-received' })).to.deep.equal({ ...accepted, state: 'canceled', outbox: null, outboxData: '' });
    const refused = inviteeLeg({ state: 'refused', outbox: 'refuse' });
    expect(moves(refused, { type: 'cancel-received' }).state).to.equal('canceled');
  });

  it('a rejected answer ends the leg as the inviter saw it end', () => {
    const accepted = inviteeLeg({ state: 'accepted', outbox: 'accept' });
    expect(moves(accepted, { type: 'answer-rejected', reason: 'expired' })).to.include({ state: 'timeout', outbox: null });
    expect(moves(accepted, { type: 'answer-rejected', reason: 'canceled' }).state).to.equal('canceled');
    stays(inviteeLeg({ state: 'canceled' }), { type: 'answer-rejected', reason: 'expired' });
    // #8.7: an answer the inviter already acknowledged has counted; a rejection cannot undo it.
    stays(inviteeLeg({ state: 'accepted', outbox: null }), { type: 'answer-rejected', reason: 'canceled' });
    refuses(inviterLeg({ state: 'accepted' }), { type: 'answer-rejected', reason: 'expired' }, 'PROTOCOL_VIOLATION');
  });

  it('a cancel that arrives after an acknowledged answer or the timeout is refused', () => {
    refuses(inviteeLeg({ state: 'accepted', outbox: null }), { type: 'cancel-received' }, 'ALREADY_RESPONDED');
    refuses(inviteeLeg({ state: 'canceled' }), { type: 'cancel-received' }, 'CANCELED');
    refuses(inviteeLeg({ state: 'timeout' }), { type: 'cancel-received' }, 'EXPIRED');
  });

  it('the ack of the answer clears the outbox and keeps the answer', () => {
    const accepted = moves(inviteeLeg(), { type: 'answer', answer: 'accept', data: 'yes' });
    expect(moves(accepted, { type: 'acked', of: 'accept' })).to.deep.equal({ ...accepted, outbox: null, outboxData: '' });
    stays(accepted, { type: 'acked', of: 'refuse' });
    stays(accepted, { type: 'acked', of: 'invite' });
  });

  it('deadline: ringing → timeout; an answer still owed never reached the inviter in time → timeout (#8.3)', () => {
    stays(inviteeLeg(), { type: 'deadline' }, DEADLINE - 1);
    expect(moves(inviteeLeg(), { type: 'deadline' }, DEADLINE)).to.deep.equal({ ...inviteeLeg(), state: 'timeout', outbox: null, outboxData: '' });
    const owing = inviteeLeg({ state: 'refused', outbox: 'refuse', outboxData: 'no' });
    expect(moves(owing, { type: 'deadline' }, DEADLINE)).to.deep.equal({ ...owing, state: 'timeout', outbox: null, outboxData: '' });
    stays(inviteeLeg({ state: 'accepted', outbox: null }), { type: 'deadline' }, DEADLINE);
    stays(inviteeLeg({ state: 'canceled' }), { type: 'deadline' }, DEADLINE);
  });

  it('refuses the inviter-only events', () => {
    refuses(inviteeLeg(), { type: 'answer-received', answer: 'accept' }, 'PROTOCOL_VIOLATION');
    refuses(inviteeLeg(), { type: 'cancel', data: '' }, 'PROTOCOL_VIOLATION');
  });

  it('wired changes nothing on a leg that came off the wire', () => {
    stays(inviteeLeg(), { type: 'wired' });
  });
});
