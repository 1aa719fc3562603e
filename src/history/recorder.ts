/**
 * Keeps the user's call history from what the plugin already announces: its
 * event streams, and the results of its own send and answer calls. Each tab
 * records what it saw; the store merges it into one record per invitation
 * (records.ts), so every tab of the user reads the same history. Facts that
 * could not be saved are kept and tried again with the next write, and shown
 * meanwhile; `close` waits for the writes in flight.
 */
import { Subscription, type Observable } from 'rxjs';
import type { HistoryOptions, InviteeOutcome, InvitationRecord, ListInvitationsParams, ListInvitationsResult, MarkSeenResult } from '../api/history.js';
import type { User } from '../api/calls.js';
import type {
  InvitationAnsweredElsewhereEvent,
  InvitationAnsweredEvent,
  InvitationCanceledEvent,
  InvitationReceivedEvent,
  InvitationTimeoutEvent,
  InviteeStateChangedEvent,
} from '../api/events.js';
import type { InviteeState } from '../api/types.js';
import { InvitationError } from '../errors.js';
import { isRecord } from '../core/protocol.js';
import { historyDatabaseName, openMemoryHistory, type HistoryStore } from '../storage/history-store.js';
import { openIndexedDbHistory } from '../storage/indexeddb-history-store.js';
import { mergeFact, select, view, type Fact, type StoredRecord } from './records.js';

export const DEFAULT_HISTORY_DAYS = 30;
export const DEFAULT_MAX_HISTORY_RECORDS = 1000;
const DAY_MS = 86_400_000;
const MAX_LIST_LIMIT = 1000;

/** The plugin's streams the history is made from. */
export interface HistorySources {
  readonly invitationReceived$: Observable<InvitationReceivedEvent>;
  readonly invitationCanceled$: Observable<InvitationCanceledEvent>;
  readonly invitationTimeout$: Observable<InvitationTimeoutEvent>;
  readonly invitationAnsweredElsewhere$: Observable<InvitationAnsweredElsewhereEvent>;
  readonly inviteeStateChanged$: Observable<InviteeStateChangedEvent>;
  readonly invitationRefused$: Observable<InvitationAnsweredEvent>;
}

export interface RecorderSettings {
  self: User;
  /** Wall-clock ms since the epoch, as the plugin's events say it. */
  now: () => number;
  historyDays: number;
  maxRecords: number;
  openStore: () => Promise<HistoryStore>;
  /** Where a failed write is reported (`errors$`). */
  report: (error: InvitationError) => void;
}

const STATE_OUTCOME: Record<InviteeState, InviteeOutcome> = {
  queued: 'ringing',
  unreachable: 'ringing',
  delivered: 'ringing',
  accepted: 'accepted',
  refused: 'refused',
  canceled: 'canceled',
  timeout: 'timeout',
};

export class HistoryRecorder {
  readonly #settings: RecorderSettings;
  readonly #store: Promise<HistoryStore>;
  readonly #subscription = new Subscription();
  #queued: Fact[] = [];
  /** Facts a write failed to save: written again with the next one, shown meanwhile. */
  #unsaved: Fact[] = [];
  #writing: Promise<void> = Promise.resolve();
  /**
   * A write is queued behind `#writing` and will take every fact queued by then: a group commit,
   * so a burst of events costs one transaction per write in flight rather than one per event, and
   * no fact waits on a timer (a tab that reloads right after an answer keeps it).
   */
  #writeQueued = false;
  #failing = false;
  #closed = false;

  constructor(settings: RecorderSettings, sources: HistorySources) {
    this.#settings = settings;
    this.#store = settings.openStore();
    // A store that fails to open fails each write, which reports it; nothing is lost meanwhile.
    this.#store.catch(() => undefined);
    const on = <T>(source: Observable<T>, fact: (event: T) => Fact | undefined) =>
      this.#subscription.add(source.subscribe((event) => this.#record(fact(event))));
    on(sources.invitationReceived$, (event) => ({
      invitationID: event.invitationID,
      direction: 'incoming',
      time: event.createTime,
      inviter: { ...event.inviter },
      type: event.type,
      data: event.data,
      deadline: event.deadline,
      outcome: 'ringing',
    }));
    on(sources.invitationCanceled$, (event) => this.#incoming(event.invitationID, 'missed'));
    on(sources.invitationTimeout$, (event) => this.#incoming(event.invitationID, 'missed'));
    on(sources.invitationAnsweredElsewhere$, (event) => ({ ...this.#incoming(event.invitationID, 'answeredElsewhere'), answer: event.answer }));
    on(sources.inviteeStateChanged$, (event) => this.#outgoing(event.invitationID, event.invitee, STATE_OUTCOME[event.state]));
    on(sources.invitationRefused$, (event) => (event.reason === 'busy' ? this.#outgoing(event.invitationID, event.invitee, 'busy') : undefined));
  }

  /** A `sendInvitation` that sent something. */
  sent(params: unknown, result: { invitationID: string; errorInvitees: Record<string, unknown>; error?: unknown }): void {
    if (result.error || !result.invitationID || !isRecord(params)) return;
    const { invitees, timeout, type, data } = params as { invitees: string[]; timeout: number; type: number; data: string };
    const time = this.#settings.now();
    const ringing = Object.fromEntries(invitees.filter((id) => !(id in result.errorInvitees) && id !== '').map((id) => [id, 'ringing' as const]));
    this.#record({ invitationID: result.invitationID, direction: 'outgoing', time, type, data, deadline: time + timeout * 1000, invitees: ringing });
  }

  /** An `acceptInvitation` or `refuseInvitation` of this tab that succeeded. */
  answered(result: { invitationID: string; error?: unknown }, answer: 'accept' | 'refuse'): void {
    if (!result.error) this.#record(this.#incoming(result.invitationID, answer === 'accept' ? 'accepted' : 'refused'));
  }

  async list(params: unknown = {}): Promise<ListInvitationsResult> {
    const checked = checkListParams(params);
    if (checked instanceof InvitationError) return { invitations: [], error: checked };
    const records = await this.#read();
    const now = this.#settings.now();
    return { invitations: select(records.map((record) => view(record, this.#settings.self, now)), checked) };
  }

  async markSeen(invitationIDs: unknown): Promise<MarkSeenResult> {
    if (!Array.isArray(invitationIDs) || invitationIDs.some((id) => typeof id !== 'string')) {
      return { error: new InvitationError('INVALID_ARGUMENT', 'markSeen takes an array of invitation ids') };
    }
    const time = this.#settings.now();
    for (const invitationID of new Set(invitationIDs as string[])) {
      this.#record({ invitationID, direction: 'incoming', time, seen: true, existingOnly: true });
    }
    this.#writeNow();
    await this.#writing;
    return {};
  }

  /** Stops recording and waits for the writes in flight; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription.unsubscribe();
    this.#writeNow();
    await this.#writing;
    (await this.#store.catch(() => undefined))?.close();
  }

  #incoming(invitationID: string, outcome: Fact['outcome']): Fact {
    return { invitationID, direction: 'incoming', time: this.#settings.now(), outcome };
  }

  #outgoing(invitationID: string, invitee: string, outcome: InviteeOutcome): Fact {
    return { invitationID, direction: 'outgoing', time: this.#settings.now(), invitees: { [invitee]: outcome } };
  }

  #record(fact: Fact | undefined): void {
    if (!fact || this.#closed) return;
    this.#queued.push(fact);
    this.#writeNow();
  }

  /** Queues a write of what is queued, after the one in flight, unless one is queued already. */
  #writeNow(): void {
    if (this.#writeQueued) return;
    this.#writeQueued = true;
    this.#writing = this.#writing.then(() => {
      this.#writeQueued = false;
      return this.#write();
    });
  }

  #bounds() {
    return { purgeBefore: this.#settings.now() - this.#settings.historyDays * DAY_MS, maxRecords: this.#settings.maxRecords };
  }

  /** Writes what is queued, with what failed before, in one transaction. */
  async #write(): Promise<void> {
    if (this.#queued.length === 0) return;
    const facts = [...this.#unsaved, ...this.#queued];
    this.#queued = [];
    try {
      await (await this.#store).apply(facts, this.#bounds());
      this.#unsaved = [];
      this.#failing = false;
    } catch (error) {
      this.#unsaved = facts;
      if (!this.#failing) this.#settings.report(new InvitationError('STORAGE_FAILED', 'The call history could not be saved; it is kept in memory and saved with the next change', { cause: error }));
      this.#failing = true;
    }
  }

  /** The saved records with the unsaved facts over them. */
  async #read(): Promise<StoredRecord[]> {
    this.#writeNow();
    await this.#writing;
    const { purgeBefore } = this.#bounds();
    let saved: StoredRecord[] = [];
    try {
      saved = await (await this.#store).all(purgeBefore);
    } catch {
      // Reported by the writes; what is in memory is still shown.
    }
    const records = new Map(saved.map((record) => [record.invitationID, record]));
    for (const fact of [...this.#unsaved, ...this.#queued]) {
      const record = mergeFact(records.get(fact.invitationID), fact);
      if (record) records.set(fact.invitationID, record);
    }
    return [...records.values()].filter((record) => record.createTime >= purgeBefore);
  }
}

function checkListParams(params: unknown): ListInvitationsParams | InvitationError {
  if (params === undefined) return {};
  if (!isRecord(params)) return new InvitationError('INVALID_ARGUMENT', 'listInvitations takes an object or nothing');
  const { direction, outcome, before, limit } = params as Record<string, unknown>;
  if (direction !== undefined && direction !== 'incoming' && direction !== 'outgoing') return new InvitationError('INVALID_ARGUMENT', 'direction must be "incoming" or "outgoing"');
  if (outcome !== undefined && !OUTCOMES.has(outcome as InvitationRecord['outcome'])) return new InvitationError('INVALID_ARGUMENT', `outcome must be one of ${[...OUTCOMES].join(', ')}`);
  if (before !== undefined && (typeof before !== 'number' || Number.isNaN(before))) return new InvitationError('INVALID_ARGUMENT', 'before must be a time in ms since the epoch');
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)) {
    return new InvitationError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  return { ...(direction === undefined ? {} : { direction }), ...(outcome === undefined ? {} : { outcome }), ...(before === undefined ? {} : { before }), ...(limit === undefined ? {} : { limit }) } as ListInvitationsParams;
}

const OUTCOMES = new Set<InvitationRecord['outcome']>(['ringing', 'missed', 'accepted', 'refused', 'answeredElsewhere', 'canceled', 'timeout', 'busy']);

/** The options that decide where and how much history a plugin keeps. */
export interface HistoryPluginOptions extends HistoryOptions {
  storage?: unknown;
  databaseName?: string;
}

/**
 * A recorder for `self` as the plugin's options say: in IndexedDB beside the user's invitation
 * database with `storage: 'indexeddb'` (the default), in this page's memory otherwise.
 */
export function recordHistory(
  options: HistoryPluginOptions,
  self: User,
  now: () => number,
  sources: HistorySources,
  report: (error: InvitationError) => void,
): HistoryRecorder {
  const { storage = 'indexeddb', databaseName = `peer-invitation:${self.id}`, historyDays, maxHistoryRecords } = options;
  const open = storage === 'indexeddb' ? openIndexedDbHistory : openMemoryHistory;
  return new HistoryRecorder(
    {
      self,
      now,
      historyDays: positive(historyDays, DEFAULT_HISTORY_DAYS),
      maxRecords: Math.floor(positive(maxHistoryRecords, DEFAULT_MAX_HISTORY_RECORDS)),
      openStore: () => open(historyDatabaseName(databaseName)),
      report,
    },
    sources,
  );
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? value : fallback;
}
