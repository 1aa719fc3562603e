import { expect } from '@esm-bundle/chai';
import { emptyRoster, forgery, isLive, merge, viewOf, write, authoredBy, type Roster, type WireRow } from '../../src/core/roster.js';

/** One writer's message: what it is authority for in its own roster. */
interface Sent {
  from: string;
  rows: WireRow[];
  ended?: { data: string; rev: number };
}

function sent(roster: Roster, from: string): Sent {
  return { from, ...authoredBy(roster, from) };
}

function apply(roster: Roster, messages: readonly Sent[]): Roster {
  return messages.reduce((current, message) => merge(current, message.from, message.rows, message.ended).roster, roster);
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

describe('roster: who may write what', () => {
  it('a member writes its own answers; a ringer only inviting, canceled and timeout of others', () => {
    for (const state of ['received', 'accepted', 'refused', 'timeout', 'canceled', 'quit'] as const) expect(forgery('bob', { id: 'bob', state })).to.equal(undefined);
    expect(forgery('bob', { id: 'bob', state: 'inviting' })).to.be.a('string');
    for (const state of ['inviting', 'canceled', 'timeout'] as const) expect(forgery('alice', { id: 'bob', state })).to.equal(undefined);
    for (const state of ['received', 'accepted', 'refused', 'quit'] as const) expect(forgery('mallory', { id: 'bob', state })).to.contain('only "bob" writes');
  });
});

describe('roster: the merge', () => {
  it('a write that saw another beats it; crossed writes of equal rev are ordered by the fixed rule', () => {
    let alice = write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' });
    alice = write(alice, 'alice', { id: 'bob', state: 'inviting', data: '' });
    let bob = apply(emptyRoster('alice:c'), [sent(alice, 'alice')]);
    bob = write(bob, 'bob', { id: 'bob', state: 'received', data: '' });
    expect(viewOf(apply(alice, [sent(bob, 'bob')])).find((user) => user.id === 'bob')?.state).to.equal('received');
    // Alice's cancel and Bob's accept cross (both saw "received"): the answer wins.
    const canceled = write(apply(alice, [sent(bob, 'bob')]), 'alice', { id: 'bob', state: 'canceled', data: '' });
    const accepted = write(bob, 'bob', { id: 'bob', state: 'accepted', data: 'hi' });
    const atAlice = apply(canceled, [sent(accepted, 'bob')]);
    const atBob = apply(accepted, [sent(canceled, 'alice')]);
    expect(viewOf(atAlice)).to.deep.equal(viewOf(atBob));
    expect(viewOf(atAlice).find((user) => user.id === 'bob')).to.deep.equal({ id: 'bob', state: 'accepted', data: 'hi' });
  });

  it("no ringer's write, however high its rev, overrides a member's own accepted, refused or quit", () => {
    let roster = write(emptyRoster('alice:c'), 'bob', { id: 'bob', state: 'accepted', data: '' });
    roster = merge(roster, 'carol', [{ id: 'bob', state: 'canceled', data: '', rev: 1000 }]).roster;
    expect(viewOf(roster)[0]!.state).to.equal('accepted');
    // Its own later write does: a quit after the join.
    roster = write(roster, 'bob', { id: 'bob', state: 'quit', data: 'bye' });
    expect(viewOf(roster)[0]).to.deep.equal({ id: 'bob', state: 'quit', data: 'bye' });
    // A ring after a quit shows once the member's plugin says received.
    roster = merge(roster, 'alice', [{ id: 'bob', state: 'inviting', data: '', rev: roster.clock + 1 }]).roster;
    expect(viewOf(roster)[0]!.state).to.equal('quit');
    roster = write(roster, 'bob', { id: 'bob', state: 'received', data: '' });
    expect(viewOf(roster)[0]!.state).to.equal('received');
  });

  it('ended wins over every row, and every member keeps the earliest end', () => {
    let alice = write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' });
    const bob = write(apply(emptyRoster('alice:c'), [sent(alice, 'alice')]), 'bob', { id: 'bob', state: 'accepted', data: '' });
    alice = apply(alice, [sent(bob, 'bob')]);
    const endedByAlice = write(alice, 'alice', { end: 'from alice' });
    const endedByBob = write(bob, 'bob', { end: 'from bob' });
    const one = apply(endedByAlice, [sent(endedByBob, 'bob')]);
    const two = apply(endedByBob, [sent(endedByAlice, 'alice')]);
    expect(one.ended).to.deep.equal(two.ended);
    expect(viewOf(one).map((user) => user.state)).to.deep.equal(['ended', 'ended']);
    expect(isLive(one)).to.equal(false);
  });

  it('converges whatever order the messages of four members arrive in (join vs end, quit vs add)', () => {
    // Alice created the call and rang Bob and Carol; Carol then rang Dave.
    let alice = write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' });
    alice = write(alice, 'alice', { id: 'bob', state: 'inviting', data: '' });
    alice = write(alice, 'alice', { id: 'carol', state: 'inviting', data: '' });
    let carol = write(apply(emptyRoster('alice:c'), [sent(alice, 'alice')]), 'carol', { id: 'carol', state: 'accepted', data: '' });
    let bob = write(apply(emptyRoster('alice:c'), [sent(alice, 'alice')]), 'bob', { id: 'bob', state: 'received', data: '' });
    // Crossed: Bob joins, Alice ends; Carol quits while adding Dave.
    bob = write(bob, 'bob', { id: 'bob', state: 'accepted', data: 'join' });
    alice = write(apply(alice, [sent(carol, 'carol')]), 'alice', { end: 'over' });
    carol = write(carol, 'carol', { id: 'dave', state: 'inviting', data: '' });
    carol = write(carol, 'carol', { id: 'carol', state: 'quit', data: '' });
    const dave = write(apply(emptyRoster('alice:c'), [sent(carol, 'carol')]), 'dave', { id: 'dave', state: 'received', data: '' });
    const messages = [sent(alice, 'alice'), sent(bob, 'bob'), sent(carol, 'carol'), sent(dave, 'dave')];
    const views = new Set<string>();
    const starts = [alice, bob, carol, dave, emptyRoster('alice:c')];
    for (const order of permutations(messages)) for (const start of starts) views.add(JSON.stringify([viewOf(apply(start, order)), apply(start, order).ended]));
    expect(views.size).to.equal(1);
    const [view, ended] = JSON.parse([...views][0]!);
    expect(ended).to.deep.include({ by: 'alice', data: 'over' });
    expect(view.map((user: { id: string }) => user.id)).to.deep.equal(['alice', 'bob', 'carol', 'dave']);
  });

  it('an ender whose end lost to an earlier one still tells its own, so the end reaches a member the earlier ender never reached', () => {
    let alice = write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' });
    let bob = write(apply(emptyRoster('alice:c'), [sent(alice, 'alice')]), 'bob', { id: 'bob', state: 'accepted', data: '' });
    alice = write(apply(alice, [sent(bob, 'bob')]), 'alice', { end: 'first' });
    bob = write(bob, 'bob', { end: 'second' });
    bob = apply(bob, [sent(alice, 'alice')]);
    expect(bob.ended).to.deep.include({ by: 'alice' });
    // Carol hears only from Bob (Alice went away): she still learns the call ended.
    const carol = apply(emptyRoster('alice:c'), [sent(bob, 'bob')]);
    expect(carol.ended).to.deep.include({ by: 'bob', data: 'second' });
    expect(apply(carol, [sent(alice, 'alice')]).ended).to.deep.equal(bob.ended);
  });

  it('merging is idempotent', () => {
    const alice = write(write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' }), 'alice', { id: 'bob', state: 'inviting', data: '' });
    const once = apply(emptyRoster('alice:c'), [sent(alice, 'alice')]);
    const { roster: twice, changed } = merge(once, 'alice', sent(alice, 'alice').rows);
    expect(changed).to.equal(false);
    expect(viewOf(twice)).to.deep.equal(viewOf(once));
  });

  it('a call lives while someone is accepted, inviting or received', () => {
    let roster = write(emptyRoster('alice:c'), 'alice', { id: 'alice', state: 'accepted', data: '' });
    expect(isLive(roster)).to.equal(true);
    roster = write(roster, 'alice', { id: 'bob', state: 'inviting', data: '' });
    roster = write(roster, 'alice', { id: 'alice', state: 'quit', data: '' });
    expect(isLive(roster)).to.equal(true);
    roster = write(roster, 'alice', { id: 'bob', state: 'timeout', data: '' });
    expect(isLive(roster)).to.equal(false);
  });
});
