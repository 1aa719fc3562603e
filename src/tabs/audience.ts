/**
 * Whether some tab may follow the leader, so that its events are posted at
 * all: a post costs the leader a structured clone per event even with nobody
 * listening. True until the lock manager says nobody waits for the lock (every
 * follower does); a hello makes it true again at once.
 */
import type { LeaderElection } from './leader-election.js';

export class Audience {
  readonly #election: LeaderElection;
  #followed = true;
  /** Counts the checks: a hello during a check makes the check's answer stale. */
  #check = 0;

  constructor(election: LeaderElection) {
    this.#election = election;
  }

  get followed(): boolean {
    return this.#followed;
  }

  /** Asks the lock manager whether a tab still follows; a hello meanwhile wins. */
  check(): void {
    const check = ++this.#check;
    void this.#election.othersWaiting().then(
      (waiting) => {
        if (check === this.#check) this.#followed = waiting;
      },
      () => {},
    );
  }

  /** A tab said hello: it follows. */
  hello(): void {
    this.#check++;
    this.#followed = true;
  }
}
