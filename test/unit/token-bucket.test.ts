import { expect } from '@esm-bundle/chai';
import { TokenBucket } from '../../src/core/token-bucket.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** A wall clock set back by an hour. */
const HOUR = 3_600_000;

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 50, burst: 100 }, clock.now);
    let taken = 0;
    for (let i = 0; i < 150; i++) if (bucket.take()) taken++;
    expect(taken).to.equal(100);
    clock.advance(100);
    taken = 0;
    for (let i = 0; i < 20; i++) if (bucket.take()) taken++;
    expect(taken, '50 per second for 100 ms').to.equal(5);
    clock.advance(60_000);
    taken = 0;
    for (let i = 0; i < 150; i++) if (bucket.take()) taken++;
    expect(taken, 'never more than the burst saved up').to.equal(100);
  });

  it('never runs dry at an infinite rate', () => {
    const bucket = new TokenBucket({ perSecond: Infinity, burst: Infinity }, manualClock().now);
    for (let i = 0; i < 1000; i++) expect(bucket.take()).to.equal(true);
  });

  it('is not drained by a wall clock set back', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 50, burst: 100 }, clock.now);
    for (let i = 0; i < 50; i++) bucket.take();
    clock.advance(-HOUR);
    let taken = 0;
    for (let i = 0; i < 100; i++) if (bucket.take()) taken++;
    expect(taken).to.equal(50);
  });

  it('is full again once refilled, and not before', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, clock.now);
    expect(bucket.isFull()).to.equal(true);
    bucket.take();
    expect(bucket.isFull()).to.equal(false);
    clock.advance(-HOUR);
    expect(bucket.isFull(), 'a clock set back refills nothing').to.equal(false);
    clock.advance(100);
    expect(bucket.isFull()).to.equal(true);
  });
});
