/**
 * The app's calls a following tab handed to the leader and has no reply for
 * yet. Each is posted again whenever a leader (re)introduces itself, so a
 * call made while the leader changed still runs; the leader answers a request
 * id it already ran with the same result. When this tab becomes the leader,
 * it runs what is left itself.
 */
import type { CallMethod, TabMessage, WireResult } from './tab-channel.js';

export interface PendingCall {
  method: CallMethod;
  params: unknown;
  suffix?: string;
  /** Posted before, to a leader that may have run it: a send already made is not made again. */
  retried?: boolean;
}

export class PendingCalls {
  readonly #tabId: string;
  readonly #post: (message: TabMessage) => void;
  readonly #calls = new Map<string, PendingCall & { settle: (result: WireResult) => void }>();
  #counter = 0;

  constructor(tabId: string, post: (message: TabMessage) => void) {
    this.#tabId = tabId;
    this.#post = post;
  }

  /** Posts a call; settles with the leader's reply. A call the channel cannot carry settles at once as invalid. */
  call(call: PendingCall): Promise<WireResult> {
    const requestId = `${this.#tabId}:${++this.#counter}`;
    return new Promise<WireResult>((settle) => {
      this.#calls.set(requestId, { ...call, settle });
      try {
        this.#post({ type: 'call', requestId, from: this.#tabId, ...call });
      } catch (error) {
        this.#calls.delete(requestId);
        settle({ invitationID: '', error: { code: 'INVALID_ARGUMENT', message: `The parameters cannot be passed to another tab: ${String(error)}` } });
      }
    });
  }

  reply(requestId: string, result: WireResult): void {
    const call = this.#calls.get(requestId);
    this.#calls.delete(requestId);
    call?.settle(result);
  }

  /** A leader introduced itself: it may never have seen these. */
  repost(): void {
    for (const [requestId, { method, params, suffix }] of this.#calls) {
      this.#post({ type: 'call', requestId, from: this.#tabId, method, params, ...(suffix === undefined ? {} : { suffix }), retried: true });
    }
  }

  /** Hands every call still pending to `run` (this tab leads now), and forgets them. */
  drain(run: (call: PendingCall) => Promise<WireResult>): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) void run({ ...call, retried: true }).then(call.settle);
  }

  /** Settles every pending call with `result` (the tab disconnected). */
  settleAll(result: WireResult): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) call.settle(result);
  }
}
