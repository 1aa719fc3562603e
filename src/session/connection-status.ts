/**
 * The one writer of `connectionState$`: a session starting or retrying says
 * `connecting`, the transport says how its registration goes, a following tab
 * repeats what its leader says, and a closed session says `disconnected`.
 * Replays the current state to each new subscriber.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import type { ConnectionState } from '../api/types.js';

const STATES: readonly string[] = ['disconnected', 'connecting', 'connected', 'reconnecting'] satisfies ConnectionState[];

export function isConnectionState(value: unknown): value is ConnectionState {
  return typeof value === 'string' && STATES.includes(value);
}

export class ConnectionStatus {
  readonly #state = new BehaviorSubject<ConnectionState>('disconnected');
  /** Every state said, repeats included; the current one first. */
  readonly state$: Observable<ConnectionState> = this.#state.asObservable();

  get current(): ConnectionState {
    return this.#state.value;
  }

  /** A session starts, retries, or its leading tab leaves: it is not registered yet. */
  connecting(): void {
    this.#set('connecting');
  }

  /** What the transport says of its registration with the PeerServer. */
  registration(state: ConnectionState): void {
    this.#set(state);
  }

  /** What the leading tab says (a following tab has no registration of its own). */
  leaderSays(state: ConnectionState): void {
    this.#set(state);
  }

  /** The session closed. */
  disconnected(): void {
    this.#set('disconnected');
  }

  /** The plugin is disposed. */
  complete(): void {
    this.#state.complete();
  }

  #set(state: ConnectionState): void {
    this.#state.next(state);
  }
}
