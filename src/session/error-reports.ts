/**
 * The one writer of `errors$`: the announcer, the session's store, a tab that
 * takes over and the history report their faults here.
 */
import { Subject, type Observable } from 'rxjs';
import type { InvitationError } from '../errors.js';

export class ErrorReports {
  readonly #errors = new Subject<InvitationError>();
  readonly errors$: Observable<InvitationError> = this.#errors.asObservable();

  report(error: InvitationError): void {
    this.#errors.next(error);
  }

  /** The plugin is disposed. */
  complete(): void {
    this.#errors.complete();
  }
}
