/**
 * The plugin's time: ms since the epoch, read from two clocks. Timers run on the
 * monotonic clock, which a user or NTP cannot move, but which may stand still
 * while the machine sleeps; the wall clock keeps counting through sleep but can
 * be stepped either way. Elapsed time is the larger of the two, and the result
 * never runs backwards: a wall clock set back changes nothing, a page that slept
 * past a deadline sees it passed, and a clock set forward can only end things early.
 */
export interface Clock {
  /** Ms since the epoch as this page measures it; never decreases. */
  now(): number;
}

export function createClock(monotonic: () => number, wall: () => number): Clock {
  const wallAtStart = wall();
  const monotonicAtStart = monotonic();
  let last = wallAtStart;
  return {
    now() {
      last = Math.max(last, wallAtStart + (monotonic() - monotonicAtStart), wall());
      return last;
    },
  };
}
