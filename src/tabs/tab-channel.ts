/**
 * What the tabs of one user say to each other over a `BroadcastChannel` named
 * for the user: the app's calls of other tabs and their replies (by request
 * id), the leading tab's events, and who leads. Tabs are a local matter: none
 * of this goes on the wire to peers. What another tab posts is checked before
 * anyone reads it (`readTabMessage`), as the app's own parameters are.
 */
import { Subject, type Observable } from 'rxjs';
import { InvitationError, type InvitationErrorCode } from '../errors.js';
import type { InvitationAnsweredElsewhereEvent, InvitationReceivedEvent } from '../api/events.js';
import type { ConnectionState } from '../api/types.js';
import type { Outlets } from '../session/announcer.js';
import { isConnectionState } from '../session/connection-status.js';
import { isRecord } from '../core/protocol.js';

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
  /** Advanced mode's results: `addInvitation`'s ring (id, type, timeout), `joinInvitation`'s members. */
  ringID?: string;
  type?: number;
  timeout?: number;
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
    channel.onmessage = (event: MessageEvent) => {
      const message = readTabMessage(event.data);
      if (message) this.#messages.next(message);
    };
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

const CALL_METHODS: readonly unknown[] = ['send', 'cancel', 'accept', 'refuse', 'add', 'join', 'quit', 'end'] satisfies CallMethod[];

/** A message another tab posted, if it has the shape of one; undefined for anything else. */
export function readTabMessage(data: unknown): TabMessage | undefined {
  if (!isRecord(data)) return undefined;
  const check = CHECKS[data['type'] as TabMessage['type']];
  return typeof check === 'function' && check(data) ? (data as unknown as TabMessage) : undefined;
}

type Fields = Record<string, unknown>;

const CHECKS: Record<TabMessage['type'], (message: Fields) => boolean> = {
  call: (m) => isString(m['requestId']) && isString(m['from']) && CALL_METHODS.includes(m['method']) && optional(m['suffix'], isString) && optional(m['retried'], isBoolean),
  reply: (m) => isString(m['requestId']) && isString(m['to']) && isWireResult(m['result']),
  hello: (m) => isString(m['from']),
  welcome: (m) => isString(m['from']) && optional(m['to'], isString) && isConnectionState(m['state']) && Array.isArray(m['ringing']) && m['ringing'].every(isInvitationEvent),
  leaving: (m) => isString(m['from']),
  goodbye: (m) => isString(m['from']),
  event: (m) => isString(m['from']) && isSharedEvent(m['outlet'], m['value']),
  answered: (m) => isString(m['from']) && isString(m['by']) && isAnsweredEvent(m['event']),
};

function isSharedEvent(outlet: unknown, value: unknown): boolean {
  if (!(SHARED_OUTLETS as readonly unknown[]).includes(outlet)) return false;
  if (outlet === 'connectionState') return isConnectionState(value);
  if (outlet === 'inviteeStateChanged') return isInvitationEvent(value) && isString(value['invitee']) && isString(value['state']);
  if (outlet === 'invitationUserStateChanged') return isInvitationEvent(value) && Array.isArray(value['users']) && value['users'].every(isCallUser);
  if (outlet === 'invitationEnded') return isInvitationEvent(value) && isString(value['by']) && isString(value['data']);
  return isInvitationEvent(value);
}

function isInvitationEvent(value: unknown): value is Fields {
  return isRecord(value) && isString(value['invitationID']);
}

function isCallUser(value: unknown): boolean {
  return isRecord(value) && isString(value['id']) && isString(value['state']) && isString(value['data']);
}

function isAnsweredEvent(value: unknown): boolean {
  return isInvitationEvent(value) && (value['answer'] === 'accept' || value['answer'] === 'refuse') && isString(value['data']);
}

function isWireResult(value: unknown): boolean {
  return isInvitationEvent(value) && optional(value['error'], (error) => isRecord(error) && isString(error['code']) && isString(error['message']));
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function optional(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

export function toWire(result: { invitationID: string; errorInvitees?: unknown; error?: InvitationError }): WireResult {
  const { error, ...rest } = result;
  return error ? { ...rest, error: { code: error.code, message: error.message } } : rest;
}

export function fromWire<T>(result: WireResult): T {
  const { error, ...rest } = result;
  return (error ? { ...rest, error: new InvitationError(error.code, error.message) } : rest) as T;
}
