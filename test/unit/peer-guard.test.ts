import { expect } from '@esm-bundle/chai';
import { PeerGuard } from '../../src/transport/peer-guard.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** A wall clock set back by an hour. */
const HOUR = 3_600_000;

describe('PeerGuard', () => {
  it('bans at the nth violation within a cool-down, for a cool-down', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 3, cooldownMs: 1000 }, clock.now);
    expect([guard.count('mallory'), guard.count('mallory'), guard.count('mallory')]).to.deep.equal([false, false, true]);
    expect(guard.count('bob'), 'counts are per peer').to.equal(false);
    guard.ban('mallory');
    expect(guard.isBanned('mallory')).to.equal(true);
    expect(guard.isBanned('bob')).to.equal(false);
    expect(guard.bannedCount()).to.equal(1);
    clock.advance(999);
    expect(guard.isBanned('mallory')).to.equal(true);
    clock.advance(1);
    expect(guard.isBanned('mallory')).to.equal(false);
    expect(guard.bannedCount()).to.equal(0);
    expect(guard.count('mallory'), 'the ban forgot the old tally').to.equal(false);
  });

  it('forgets violations further apart than a cool-down', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 2, cooldownMs: 1000 }, clock.now);
    expect(guard.count('glitchy')).to.equal(false);
    clock.advance(1000);
    expect(guard.count('glitchy')).to.equal(false);
    expect(guard.count('glitchy')).to.equal(true);
  });

  it('lets one report per peer through per cool-down', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 10, cooldownMs: 1000 }, clock.now);
    expect([guard.mayReport('mallory'), guard.mayReport('mallory'), guard.mayReport('bob')]).to.deep.equal([true, false, true]);
    clock.advance(1000);
    expect(guard.mayReport('mallory')).to.equal(true);
  });

  it('keeps a longer ban when a shorter one is asked for', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 10, cooldownMs: 1000 }, clock.now);
    guard.ban('mallory', 5000);
    guard.ban('mallory', 10);
    clock.advance(4999);
    expect(guard.isBanned('mallory')).to.equal(true);
  });

  it('sweeps expired entries, so that fresh ids cannot grow it without bound', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 10, cooldownMs: 1000 }, clock.now);
    for (let i = 0; i < 1000; i++) guard.ban(`sybil-${i}`, 10);
    clock.advance(10);
    guard.ban('last', 10);
    expect(guard.bannedCount()).to.equal(1);
  });

  it('never stretches a ban or a quiet period when the wall clock is set back', () => {
    const clock = manualClock();
    const guard = new PeerGuard({ violationsBeforeCooldown: 2, cooldownMs: 1000 }, clock.now);
    guard.ban('mallory');
    expect(guard.mayReport('mallory')).to.equal(true);
    guard.count('bob');
    clock.advance(-HOUR);
    expect(guard.isBanned('mallory')).to.equal(false);
    expect(guard.mayReport('mallory')).to.equal(true);
    expect(guard.count('bob'), 'a tally from the future starts over').to.equal(false);
  });
});
