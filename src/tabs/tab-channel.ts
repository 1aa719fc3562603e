/**
 * What the tabs of one user say to each other over a `BroadcastChannel` named
 * for the user: the app's calls of other tabs and their replies (by request
 * id), the leading tab's events, and who leads. Tabs are a local matter: none
 * of this goes on the wire to peers.
 */
import { Subject, type Observable } from 'rxjs';
import { InvitationError, type InvitationErrorCode } from '../errors.js';
import type { InvitationAnsweredElsewhereEvent, InvitationReceivedEvent } from '../api/events.js';
import type { ConnectionState } from '../api/types.js';
import type { Outlets } from '../session/announcer.js';

export type CallMethod = 'send' | 'cancel' | 'accept' | 'refuse' | 'add' | 'join' | 'quit' | 'end';

/** The outlets whose events the leading tab passes on to the others. */
export const SHARED_OUTLETS = [
  'invitationReceived',
  'invitationCanceled',
  'invitationAccepted',
  'invitationRefused',
  'invitationTimeout',
  'invitationResponseTimeout',
  'inviteeStateChanged',
  'invitationUserStateChanged',
  'invitationEnded',
  'connectionState',
] as const satisfies readonly (keyof Outlets)[];
export type SharedOutlet = (typeof SHARED_OUTLETS)[number];

/** A call's result as it crosses between tabs: errors lose their class in a structured clone. */
export interface WireResult {
  invitationID: string;
  errorInvitees?: unknown;
  /** Advanced mode's results: `addInvitation`'s ring id, `joinInvitation`'s members. */
  ringID?: string;
  users?: unknown;
  error?: { code: InvitationErrorCode; message: string };
}

export type TabMessage =
  /** A tab that is not leading asks the leader to run one of its app's calls. */
  | { type: 'call'; requestId: string; from: string; method: CallMethod; params: unknown; suffix?: string; retried?: boolean }
  | { type: 'reply'; requestId: string; to: string; result: WireResult }
  /** A tab that follows asks who leads. */
  | { type: 'hello'; from: string }
  /** The leader, to one tab that said hello, or to all (`to` absent) when it starts leading. */
  | { type: 'welcome'; from: string; to?: string; state: ConnectionState; ringing: InvitationReceivedEvent[] }
  | { type: 'leaving'; from: string }
  /** A follower disconnects: the leader checks whether any follower is left to post events to. */
  | { type: 'goodbye'; from: string }
  | { type: 'event'; from: string; outlet: SharedOutlet; value: unknown }
  /** A tab (`by`) answered an invitation: every other tab hears `invitationAnsweredElsewhere$`. */
  | { type: 'answered'; from: string; by: string; event: InvitationAnsweredElsewhereEvent };

export class TabChannel {
  readonly #messages = new Subject<TabMessage>();
  /** What the user's other tabs post; never what this tab posts. */
  readonly messages$: Observable<TabMessage> = this.#messages.asObservable();
  readonly #channel: BroadcastChannel;

  constructor(channel: BroadcastChannel) {
    this.#channel = channel;
    channel.onmessage = (event: MessageEvent) => this.#messages.next(event.data as TabMessage);
  }

  /** Throws `DataCloneError` for what a structured clone cannot carry (functions, for one). */
  post(message: TabMessage): void {
    this.#channel.postMessage(message);
  }

  close(): void {
    this.#channel.onmessage = null;
    this.#channel.close();
    this.#messages.complete();
  }
}

export function toWire(result: { invitationID: string; errorInvitees?: unknown; error?: InvitationError }): WireResult {
  const { error, ...rest } = result;
  return error ? { ...rest, error: { code: error.code, message: error.message } } : rest;
}

export function fromWire<T>(result: WireResult): T {
  const { error, ...rest } = result;
  return (error ? { ...rest, error: new InvitationError(error.code, error.message) } : rest) as T;
}
