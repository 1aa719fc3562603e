/**
 * Whether the user is busy (`setBusy`), in this tab or any other tab of the
 * user. A busy tab holds a Web Lock of its own under the user's busy prefix,
 * so any tab can ask the lock manager whether some tab is busy, and a tab that
 * closes or crashes lets go of its lock with everything else it held: busy
 * never outlives the tab that said it. Without Web Locks only this plugin's
 * own word counts.
 */
import { randomId } from '../core/random-id.js';

export class BusyState {
  readonly #locks: LockManager | undefined;
  #busy = false;
  /** Advanced mode: this tab's session has the user in a live call. */
  #inCall = false;
  #userId: string | undefined;
  /** Lets go of this tab's busy lock, and resolves once the lock manager no longer lists it. */
  #release: (() => Promise<void>) | undefined;

  /** `locks`: those the user's tabs share (src/tabs), or none when this plugin does not share tabs. */
  constructor(locks: LockManager | undefined) {
    this.#locks = locks;
  }

  /** The app's word; kept across connects. */
  async set(busy: boolean): Promise<void> {
    this.#busy = busy;
    await this.#sync();
  }

  /** Advanced mode: in a live call counts as busy, as the app's word does. */
  async setInCall(inCall: boolean): Promise<void> {
    this.#inCall = inCall;
    await this.#sync();
  }

  /** From connectUser to disconnectUser this plugin's busy is the user's, for every tab to see. */
  async attach(userId: string | undefined): Promise<void> {
    this.#userId = userId;
    await this.#sync();
  }

  /** Whether this plugin or another tab of the attached user is busy. */
  async anyBusy(): Promise<boolean> {
    if (this.#busy || this.#inCall) return true;
    if (!this.#locks || this.#userId === undefined) return false;
    const prefix = busyPrefix(this.#userId);
    const { held = [] } = await this.#locks.query();
    return held.some((lock) => lock.name?.startsWith(prefix));
  }

  async #sync(): Promise<void> {
    const hold = (this.#busy || this.#inCall) && this.#userId !== undefined && this.#locks !== undefined;
    if (!hold) {
      const release = this.#release;
      this.#release = undefined;
      await release?.();
      return;
    }
    if (this.#release) return;
    let letGo!: () => void;
    const released = new Promise<void>((resolve) => (letGo = resolve));
    // Granted at once: the name is this tab's alone.
    await new Promise<void>((granted) => {
      const held = this.#locks!.request(`${busyPrefix(this.#userId!)}${randomId()}`, () => {
        granted();
        return released;
      });
      this.#release = async () => {
        letGo();
        await held;
      };
    });
  }
}

function busyPrefix(userId: string): string {
  return `peer-invitation:busy:${JSON.stringify(userId)}:`;
}
