/**
 * One connected user, from `connectUser` to `disconnectUser`: the legs in
 * memory and in the store, the transport, deliveries and timers, and what
 * peers send. Every change goes through the pure state machine; the facade
 * (plugin.ts) only checks that a session is there.
 */
import { Subscription, timer, type BehaviorSubject, type SchedulerLike, type Subject } from 'rxjs';
import { Delivery, type OwedMessage } from './delivery.js';
import { InvitationError, type InvitationErrorCode } from './errors.js';
import { createPeerJsTransport } from './peerjs-transport.js';
import {
  MAX_DATA_BYTES,
  MAX_INVITATION_ID_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_TIMEOUT_SECONDS,
  PROTOCOL_VERSION,
  HELLO,
  decodeMessage,
  encodedSize,
  type AckMessage,
  type AnswerMessage,
  type AnswerRejection,
  type CancelMessage,
  type InviteMessage,
  type Message,
  type NotificationPayload,
  type OutgoingKind,
} from './protocol.js';
import { isAnswerable, refusalCode, transition, type Leg, type LegEvent } from './state-machine.js';
import { legKey, legKeyString, type InvitationStore, type OpenStore } from './store.js';
import type { Transport, TransportStats } from './transport.js';
import type {
  CancelInvitationParams,
  CancelInvitationResult,
  ConnectionState,
  InvitationAnsweredEvent,
  InvitationCanceledEvent,
  InvitationReceivedEvent,
  InvitationResponseTimeoutEvent,
  InvitationTimeoutEvent,
  InviteeState,
  InviteeStateChangedEvent,
  NotificationRequest,
  ResolvedDeliveryOptions,
  RespondInvitationParams,
  RespondInvitationResult,
  SendInvitationParams,
  SendInvitationResult,
  SignalingPluginOptions,
  User,
} from './types.js';
import { checkInvitation, checkInvitationID, checkText } from './validate.js';

export interface PluginStats extends TransportStats {
  /** Invitations held (sent or received, until their deadline plus `retentionMs`). */
  invitations: number;
  /** Messages owed to peers and not yet acknowledged. */
  pendingDeliveries: number;
}

/** The plugin's subjects, shared by every session. */
export interface Outlets {
  invitationReceived: Subject<InvitationReceivedEvent>;
  invitationCanceled: Subject<InvitationCanceledEvent>;
  invitationAccepted: Subject<InvitationAnsweredEvent>;
  invitationRefused: Subject<InvitationAnsweredEvent>;
  invitationTimeout: Subject<InvitationTimeoutEvent>;
  invitationResponseTimeout: Subject<InvitationResponseTimeoutEvent>;
  inviteeStateChanged: Subject<InviteeStateChangedEvent>;
  connectionState: BehaviorSubject<ConnectionState>;
  errors: Subject<InvitationError>;
}

export interface Settings {
  options: SignalingPluginOptions;
  delivery: ResolvedDeliveryOptions;
  scheduler: SchedulerLike;
  openStore: OpenStore;
  createInvitationID: () => string;
  notify: (request: NotificationRequest) => (() => void) | void;
}

/** Everything that lives from `connectUser` to `disconnectUser`, released by `close`. */
export class Session {
  /** Legs by invitation id, then by peer. */
  readonly #invitations = new Map<string, Map<string, Leg>>();
  /** Peers owed a message, and by which invitations: what Delivery asks for. */
  readonly #owedByPeer = new Map<string, Set<string>>();
  readonly #deadlineTimers = new Map<string, Subscription>();
  /** Legs changed in this task and not yet handed to the store; see #commit. */
  readonly #unsaved = new Map<string, Leg>();
  /** The transaction being written (settled when idle); never rejects. */
  #writing: Promise<void> = Promise.resolve();
  /** The batch that will be written once `#writing` is done. */
  #nextWrite: Promise<void> | undefined;
  readonly #closeNotification = new Map<string, () => void>();
  readonly #lifetime = new Subscription();
  #store: InvitationStore | undefined;
  #storageFailed = false;
  #transport: Transport | undefined;
  #delivery: Delivery | undefined;
  #closed = false;
  started = false;

  readonly user: User;
  readonly #settings: Settings;
  readonly #outlets: Outlets;

  constructor(user: User, settings: Settings, outlets: Outlets) {
    this.user = user;
    this.#settings = settings;
    this.#outlets = outlets;
  }

  #now(): number {
    return this.#settings.scheduler.now();
  }

  async start(): Promise<void> {
    const { options, delivery, scheduler } = this.#settings;
    this.#outlets.connectionState.next('connecting');
    const restored = await this.#openStore(options.databaseName ?? `peer-invitation:${this.user.id}`);
    if (this.#closed) throw new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
    // A queued invite may have been written before the page went away: count it as wired, so a
    // cancel follows it (a cancel for an invite that never arrived is harmless).
    for (const leg of restored) this.#setLeg(leg.state === 'queued' ? { ...leg, wired: true } : leg);

    const createTransport = options.transport ?? createPeerJsTransport;
    const transport = createTransport({ id: this.user.id, peer: options.peer ?? {}, delivery, scheduler });
    this.#transport = transport;
    this.#lifetime.add(() => transport.close());
    this.#delivery = new Delivery(transport, this, delivery, scheduler);
    this.#lifetime.add(() => this.#delivery?.close());
    this.#lifetime.add(transport.frames$.subscribe(({ from, frame }) => this.#receive(from, frame)));
    this.#lifetime.add(transport.errors$.subscribe((error) => this.#outlets.errors.next(error)));
    this.#lifetime.add(transport.peerOnline$.subscribe((peer) => this.#delivery?.peerOnline(peer)));

    await transport.open();
    if (this.#closed) throw new InvitationError('DISPOSED', 'disconnectUser() was called during connectUser()');
    this.started = true;
    this.#restore(restored);
    this.#lifetime.add(
      transport.state$.subscribe((state) => {
        this.#outlets.connectionState.next(state);
        if (state === 'connected') this.#greet();
      }),
    );
  }

  /** Opens the store and loads what it kept; on failure, reports it and goes on without one. */
  async #openStore(databaseName: string): Promise<Leg[]> {
    try {
      this.#store = await this.#settings.openStore(databaseName);
      return await this.#store.load(this.#now() - this.#settings.delivery.retentionMs);
    } catch (error) {
      this.#store?.close();
      this.#store = undefined;
      this.#storageFailedWith(error);
      return [];
    }
  }

  #storageFailedWith(error: unknown): void {
    if (this.#storageFailed) return;
    this.#storageFailed = true;
    this.#outlets.errors.next(
      new InvitationError('STORAGE_FAILED', 'Invitations can no longer be saved; they are kept in memory until the page closes', { cause: error }),
    );
  }

  /** Re-arms timers and tells the app what it held before the reload. */
  #restore(legs: Leg[]): void {
    const now = this.#now();
    for (const leg of legs) {
      this.#armDeadline(leg.invitationID, leg.deadline);
      if (leg.deadline <= now) continue;
      if (leg.role === 'invitee' && leg.state === 'ringing') this.#announce(leg);
      if (leg.role === 'inviter' && isAnswerable(leg.state)) this.#emitInviteeState(leg);
    }
  }

  /** Flushes everything owed, and says hello to peers that may owe us something. */
  #greet(): void {
    const now = this.#now();
    const peers = new Set<string>(this.#owedByPeer.keys());
    for (const legs of this.#invitations.values()) {
      for (const leg of legs.values()) if (leg.deadline > now && isAnswerable(leg.state)) peers.add(leg.peer);
    }
    for (const peer of peers) {
      if (this.#owedByPeer.has(peer)) this.#delivery?.kick(peer);
      else this.#sayHello(peer);
    }
  }

  #sayHello(peer: string): void {
    const transport = this.#transport;
    transport?.connect(peer).then(
      () => {
        try {
          transport.send(peer, HELLO);
        } catch {
          // The connection closed in between; hello is a courtesy, not a promise.
        }
      },
      () => {},
    );
  }

  // ---- the app's calls -------------------------------------------------

  async sendInvitation(params: SendInvitationParams): Promise<SendInvitationResult> {
    const checked = checkInvitation(params, this.user.id);
    if (checked instanceof InvitationError) return { invitationID: '', errorInvitees: {}, error: checked };
    const { invitees, errorInvitees } = checked;
    if (invitees.length === 0) {
      const error = new InvitationError('EMPTY_INVITEES', 'No valid invitee remains once empty, invalid and self entries are removed');
      return { invitationID: '', errorInvitees, error };
    }
    const { notifyWhenAppIsInTheBackgroundOrQuit = false } = this.#settings.options;
    const config = checked.notificationConfig;
    let notification: NotificationPayload | undefined;
    if (notifyWhenAppIsInTheBackgroundOrQuit && config?.notifyWhenAppIsInTheBackgroundOrQuit) {
      notification = withoutUndefined({ resourceID: config.resourceID, title: config.title, message: config.message });
    }

    const now = this.#now();
    const invitationID = this.#settings.createInvitationID();
    // A programming error in the app's generator, not an expected failure: throw.
    if (typeof invitationID !== 'string' || invitationID.length === 0 || invitationID.length > MAX_INVITATION_ID_LENGTH) {
      throw new Error(`createInvitationID must return 1 to ${MAX_INVITATION_ID_LENGTH} characters; got ${JSON.stringify(invitationID)}`);
    }
    if (this.#invitations.has(invitationID)) throw new Error(`createInvitationID returned "${invitationID}" twice`);
    const legs: Leg[] = invitees.map((invitee) => ({
      invitationID,
      peer: invitee,
      role: 'inviter',
      state: 'queued',
      inviterName: checked.inviterName,
      type: checked.type,
      data: checked.data,
      ...(notification ? { notification } : {}),
      createTime: now,
      deadline: now + checked.timeoutMs,
      outbox: 'invite',
      outboxData: '',
      wired: false,
    }));
    const tooLarge = checkEncodedSize(inviteMessage(legs[0]!, checked.timeoutMs));
    if (tooLarge) return { invitationID: '', errorInvitees, error: tooLarge };

    // Saved right after the first send (see #commit); resolved means saved.
    const saved = this.#commit(legs);
    this.#armDeadline(invitationID, now + checked.timeoutMs);
    for (const leg of legs) this.#delivery?.kick(leg.peer);
    for (const leg of legs) this.#emitInviteeState(leg);
    await saved;
    return { invitationID, errorInvitees };
  }

  async cancelInvitation(params: CancelInvitationParams): Promise<CancelInvitationResult> {
    const { invitationID, invitees, data = '' } = params ?? ({} as CancelInvitationParams);
    const invalid =
      checkInvitationID(invitationID) ??
      checkText('data', data, MAX_DATA_BYTES) ??
      checkInviteeList(invitees) ??
      checkEncodedSize({ v: PROTOCOL_VERSION, kind: 'cancel', invitationID, data, remainingMs: MAX_REMAINING_MS });
    if (invalid) return { invitationID: String(invitationID ?? ''), errorInvitees: [...(invitees ?? [])], error: invalid };
    const legs = this.#invitations.get(invitationID);
    const mine = legs && [...legs.values()].every((leg) => leg.role === 'inviter') ? legs : undefined;
    if (!mine) {
      return { invitationID, errorInvitees: [...(invitees ?? [])], error: new InvitationError('NOT_FOUND', `No invitation "${invitationID}" was sent from here`) };
    }
    const targets = invitees ?? [...mine.values()].filter((leg) => isAnswerable(leg.state)).map((leg) => leg.peer);
    const errorInvitees: string[] = [];
    const codes: InvitationErrorCode[] = [];
    const canceled: Leg[] = [];
    for (const invitee of new Set(targets)) {
      const leg = mine.get(invitee);
      const result = leg ? transition(leg, { type: 'cancel', data }, this.#now()) : ({ ok: false, code: 'NOT_FOUND' } as const);
      if (result.ok) canceled.push(result.leg);
      else {
        errorInvitees.push(invitee);
        codes.push(result.code);
      }
    }
    if (canceled.length === 0) {
      const [first] = mine.values();
      const code = codes[0] ?? (this.#now() >= first!.deadline ? 'EXPIRED' : refusalCode(first!.state));
      return { invitationID, errorInvitees, error: new InvitationError(code, `Nothing left to cancel in "${invitationID}"`) };
    }
    const saved = this.#commit(canceled);
    for (const leg of canceled) {
      if (leg.outbox) this.#delivery?.kick(leg.peer);
      this.#emitInviteeState(leg);
    }
    await saved;
    return { invitationID, errorInvitees };
  }

  async respond(params: RespondInvitationParams, answer: 'accept' | 'refuse'): Promise<RespondInvitationResult> {
    const { invitationID, data = '' } = params ?? ({} as RespondInvitationParams);
    const invalid =
      checkInvitationID(invitationID) ??
      checkText('data', data, MAX_DATA_BYTES) ??
      checkEncodedSize({ v: PROTOCOL_VERSION, kind: answer, invitationID, data, remainingMs: MAX_REMAINING_MS });
    if (invalid) return { invitationID: String(invitationID ?? ''), error: invalid };
    const leg = [...(this.#invitations.get(invitationID)?.values() ?? [])].find((candidate) => candidate.role === 'invitee');
    if (!leg) return { invitationID, error: new InvitationError('NOT_FOUND', `No invitation "${invitationID}" was received here`) };
    const result = transition(leg, { type: 'answer', answer, data }, this.#now());
    if (!result.ok) return { invitationID, error: new InvitationError(result.code, refusalMessage(result.code, invitationID)) };
    const saved = this.#commit([result.leg]);
    this.#delivery?.kick(leg.peer);
    this.#endNotification(invitationID);
    await saved;
    return { invitationID };
  }

  stats(): PluginStats {
    let pendingDeliveries = 0;
    for (const owed of this.#owedByPeer.values()) pendingDeliveries += owed.size;
    const transport = this.#transport?.stats() ?? { connectAttempts: 0, openConnections: 0 };
    return { ...transport, invitations: this.#invitations.size, pendingDeliveries };
  }

  // ---- what Delivery asks -----------------------------------------------

  owed(peer: string): OwedMessage[] {
    const now = this.#now();
    const owed: OwedMessage[] = [];
    for (const invitationID of this.#owedByPeer.get(peer) ?? []) {
      const leg = this.#invitations.get(invitationID)?.get(peer);
      if (!leg?.outbox || leg.deadline <= now) continue;
      const kind = leg.outbox;
      owed.push({ kind, invitationID, compose: () => composeOwed(leg, kind, Math.max(1, leg.deadline - this.#now())) });
    }
    return owed;
  }

  wired(peer: string, message: OwedMessage): void {
    if (message.kind !== 'invite') return;
    const leg = this.#invitations.get(message.invitationID)?.get(peer);
    const result = leg && transition(leg, { type: 'wired' }, this.#now());
    // Kept in memory only, to spare a disk write per send: the ack's write saves it, and a leg
    // restored while still queued is taken as wired (see #restore).
    if (result?.ok && result.changed) this.#setLeg(result.leg);
  }

  // ---- what peers send --------------------------------------------------

  #receive(from: string, frame: unknown): void {
    if (this.#closed) return;
    const decoded = decodeMessage(frame);
    if (!decoded.ok) return this.#violation(from, decoded.reason);
    const message = decoded.message;
    switch (message.kind) {
      case 'ack':
        return this.#onAck(from, message);
      case 'invite':
        return this.#onInvite(from, message);
      case 'cancel':
        return this.#onCancel(from, message);
      case 'accept':
      case 'refuse':
        return this.#onAnswer(from, message);
      case 'hello':
      case 'ping':
        // Hello only opened the connection, which already made Delivery retry.
        return;
    }
  }

  #onAck(from: string, ack: AckMessage): void {
    this.#delivery?.acked(from, ack);
    this.#apply(ack.invitationID, from, { type: 'acked', of: ack.of });
    if (ack.rejected) this.#onAnswerRejected(from, ack.invitationID, ack.rejected);
  }

  /** Our answer came too late to count: end the invitation here as the inviter saw it end. */
  #onAnswerRejected(from: string, invitationID: string, reason: AnswerRejection): void {
    const leg = this.#invitations.get(invitationID)?.get(from);
    if (leg?.role !== 'invitee') return;
    const result = transition(leg, { type: 'answer-rejected', reason }, this.#now());
    if (!result.ok || !result.changed) return;
    void this.#commit([result.leg]);
    const inviter = { id: from, name: leg.inviterName };
    if (result.leg.state === 'canceled') this.#outlets.invitationCanceled.next({ invitationID, inviter, data: '' });
    else this.#outlets.invitationTimeout.next({ invitationID, inviter });
  }

  #onInvite(from: string, invite: InviteMessage): void {
    const known = this.#invitations.get(invite.invitationID);
    if (known) {
      const leg = known.get(from);
      // The same invite again (its ack was lost): acknowledge, announce nothing.
      if (leg?.role === 'invitee') return this.#acknowledge(from, invite);
      return this.#violation(from, `invite reuses invitation id "${invite.invitationID}" that belongs to another conversation`);
    }
    // Already expired on the way: never ring, but stop the sender retrying.
    if (invite.remainingMs <= 0) return this.#acknowledge(from, invite);
    const leg = this.#receivedLeg(from, invite, {
      state: 'ringing',
      inviterName: invite.inviterName,
      type: invite.type,
      data: invite.data,
      ...(invite.notification ? { notification: invite.notification } : {}),
    });
    // Announced before the disk write is done (see #commit); acked after it, so an unsaved invite is sent again.
    const saved = this.#commit([leg]);
    this.#armDeadline(leg.invitationID, leg.deadline);
    this.#announce(leg);
    void saved.then(() => this.#acknowledge(from, invite));
  }

  /** An invitee leg for a message from its inviter: the deadline is our clock plus the time it had left. */
  #receivedLeg(from: string, message: InviteMessage | CancelMessage, fields: Pick<Leg, 'state' | 'inviterName' | 'type' | 'data' | 'notification'>): Leg {
    const now = this.#now();
    return {
      invitationID: message.invitationID,
      peer: from,
      role: 'invitee',
      ...fields,
      createTime: now,
      deadline: now + message.remainingMs,
      outbox: null,
      outboxData: '',
      wired: true,
    };
  }

  #onCancel(from: string, cancel: CancelMessage): void {
    const known = this.#invitations.get(cancel.invitationID);
    const leg = known?.get(from);
    if (known && leg?.role !== 'invitee') return this.#violation(from, `cancel of "${cancel.invitationID}" from a peer that is not its inviter`);
    if (!leg) {
      // The cancel overtook its invite: remember it, so the invite is dropped when it comes.
      if (cancel.remainingMs <= 0) return this.#acknowledge(from, cancel);
      const tombstone = this.#receivedLeg(from, cancel, { state: 'canceled', inviterName: '', type: 0, data: '' });
      this.#armDeadline(tombstone.invitationID, tombstone.deadline);
      void this.#commit([tombstone]).then(() => this.#acknowledge(from, cancel));
      return;
    }
    const result = transition(leg, { type: 'cancel-received' }, this.#now());
    if (!result.ok) return this.#acknowledge(from, cancel);
    const saved = this.#commit([result.leg]);
    this.#endNotification(leg.invitationID);
    this.#outlets.invitationCanceled.next({ invitationID: leg.invitationID, inviter: { id: from, name: leg.inviterName }, data: cancel.data });
    void saved.then(() => this.#acknowledge(from, cancel));
  }

  #onAnswer(from: string, answer: AnswerMessage): void {
    const known = this.#invitations.get(answer.invitationID);
    // Unknown: answered after we forgot the invitation. Acknowledge so the invitee stops resending.
    if (!known) return this.#acknowledge(from, answer, 'expired');
    const leg = known.get(from);
    if (leg?.role !== 'inviter') return this.#violation(from, `${answer.kind} of "${answer.invitationID}" from a peer that was not invited`);
    const result = transition(leg, { type: 'answer-received', answer: answer.kind }, this.#now());
    if (!result.ok) return this.#acknowledge(from, answer, rejectionOf(result.code));
    const saved = this.#commit([result.leg]);
    // The answer overtook the invite's ack (sent once the invitee saved it): the invite did arrive.
    if (leg.state === 'queued') this.#emitInviteeState({ ...leg, state: 'delivered' });
    const event = { invitationID: leg.invitationID, invitee: from, data: answer.data };
    (answer.kind === 'accept' ? this.#outlets.invitationAccepted : this.#outlets.invitationRefused).next(event);
    this.#emitInviteeState(result.leg);
    void saved.then(() => this.#acknowledge(from, answer));
  }

  #acknowledge(to: string, message: InviteMessage | CancelMessage | AnswerMessage, rejected?: AnswerRejection): void {
    if (this.#closed) return;
    const ack: AckMessage = { v: PROTOCOL_VERSION, kind: 'ack', of: message.kind, invitationID: message.invitationID };
    if (rejected) ack.rejected = rejected;
    try {
      this.#transport?.send(to, ack);
    } catch {
      // The connection is gone; the sender times out waiting and sends again, and we ack that.
    }
  }

  #violation(from: string, reason: string): void {
    this.#outlets.errors.next(new InvitationError('PROTOCOL_VIOLATION', `Dropped a message from "${from}": ${reason}`));
  }

  // ---- state -------------------------------------------------------------

  /** Runs a state-machine event on one leg and commits the change, if any. */
  #apply(invitationID: string, peer: string, event: LegEvent): Leg | undefined {
    const leg = this.#invitations.get(invitationID)?.get(peer);
    if (!leg) return undefined;
    const result = transition(leg, event, this.#now());
    if (!result.ok || !result.changed) return undefined;
    void this.#commit([result.leg]);
    if (leg.role === 'inviter' && result.leg.state !== leg.state) this.#emitInviteeState(result.leg);
    return result.leg;
  }

  /**
   * Puts legs in memory at once (so an app that answers or cancels from inside an
   * event handler sees them), and in the store soon after, in one transaction with
   * every other leg changed meanwhile: at the end of this task when the store is
   * idle, or when the transaction in flight is done (so a burst of messages costs
   * a few transactions, not one each). The promise settles when that write is
   * done, or given up on.
   */
  #commit(legs: Leg[]): Promise<void> {
    for (const leg of legs) {
      this.#setLeg(leg);
      this.#unsaved.set(legKeyString(legKey(leg)), leg);
    }
    // At least two microtask turns: deliveries kicked in this task take one, so they
    // reach the wire before the store's synchronous part (structured clone, IPC) runs.
    this.#nextWrite ??= this.#writing
      .then(() => undefined)
      .then(() => {
        const batch = [...this.#unsaved.values()];
        this.#unsaved.clear();
        this.#nextWrite = undefined;
        this.#writing = this.#persist((store) => store.put(batch));
        return this.#writing;
      });
    return this.#nextWrite;
  }

  async #persist(write: (store: InvitationStore) => Promise<void>): Promise<void> {
    if (this.#storageFailed || !this.#store) return;
    try {
      await write(this.#store);
    } catch (error) {
      if (!this.#closed) this.#storageFailedWith(error);
    }
  }

  #setLeg(leg: Leg): void {
    let legs = this.#invitations.get(leg.invitationID);
    if (!legs) this.#invitations.set(leg.invitationID, (legs = new Map()));
    legs.set(leg.peer, leg);
    let owed = this.#owedByPeer.get(leg.peer);
    if (leg.outbox) {
      if (!owed) this.#owedByPeer.set(leg.peer, (owed = new Set()));
      owed.add(leg.invitationID);
    } else if (owed?.delete(leg.invitationID) && owed.size === 0) {
      this.#owedByPeer.delete(leg.peer);
    }
  }

  /** One timer per invitation: the deadline, then the purge `retentionMs` later. */
  #armDeadline(invitationID: string, deadline: number): void {
    if (this.#deadlineTimers.has(invitationID)) return;
    const { scheduler, delivery } = this.#settings;
    const timers = new Subscription();
    timers.add(timer(Math.max(0, deadline - this.#now()), scheduler).subscribe(() => this.#expire(invitationID)));
    timers.add(timer(Math.max(0, deadline + delivery.retentionMs - this.#now()), scheduler).subscribe(() => this.#purge(invitationID)));
    this.#deadlineTimers.set(invitationID, timers);
    this.#lifetime.add(timers);
  }

  #expire(invitationID: string): void {
    const legs = this.#invitations.get(invitationID);
    if (!legs) return;
    const now = this.#now();
    const changed: Leg[] = [];
    const timedOut: Leg[] = [];
    for (const leg of legs.values()) {
      const result = transition(leg, { type: 'deadline' }, now);
      if (!result.ok || !result.changed) continue;
      changed.push(result.leg);
      if (result.leg.state === 'timeout' && leg.state !== 'timeout') timedOut.push(result.leg);
    }
    if (changed.length === 0) return;
    void this.#commit(changed);
    this.#endNotification(invitationID);
    const inviterLegs = timedOut.filter((leg) => leg.role === 'inviter');
    for (const leg of inviterLegs) this.#emitInviteeState(leg);
    if (inviterLegs.length > 0) {
      this.#outlets.invitationResponseTimeout.next({ invitationID, invitees: inviterLegs.map((leg) => leg.peer) });
    }
    for (const leg of timedOut) {
      if (leg.role === 'invitee') this.#outlets.invitationTimeout.next({ invitationID, inviter: { id: leg.peer, name: leg.inviterName } });
    }
  }

  #purge(invitationID: string): void {
    const legs = this.#invitations.get(invitationID);
    this.#deadlineTimers.get(invitationID)?.unsubscribe();
    this.#deadlineTimers.delete(invitationID);
    if (!legs) return;
    const keys = [...legs.values()].map(legKey);
    for (const key of keys) this.#unsaved.delete(legKeyString(key));
    for (const leg of legs.values()) this.#setLeg({ ...leg, outbox: null });
    this.#invitations.delete(invitationID);
    void this.#persist((store) => store.delete(keys));
  }

  // ---- events ------------------------------------------------------------

  #announce(leg: Leg): void {
    const now = this.#now();
    const inviter = { id: leg.peer, name: leg.inviterName };
    this.#outlets.invitationReceived.next({
      invitationID: leg.invitationID,
      inviter,
      type: leg.type,
      data: leg.data,
      timeout: Math.max(0, leg.deadline - now) / 1000,
      createTime: leg.createTime,
      deadline: leg.deadline,
    });
    if (leg.notification && !this.#closeNotification.has(leg.invitationID)) {
      const close = this.#settings.notify({ invitationID: leg.invitationID, inviter, type: leg.type, data: leg.data, ...leg.notification });
      if (close) this.#closeNotification.set(leg.invitationID, close);
    }
  }

  #endNotification(invitationID: string): void {
    this.#closeNotification.get(invitationID)?.();
    this.#closeNotification.delete(invitationID);
  }

  #emitInviteeState(leg: Leg): void {
    this.#outlets.inviteeStateChanged.next({ invitationID: leg.invitationID, invitee: leg.peer, state: leg.state as InviteeState });
  }

  /** Stops everything at once; resolves when the last changes are on disk and the store is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.started = false;
    this.#lifetime.unsubscribe();
    for (const close of this.#closeNotification.values()) close();
    this.#closeNotification.clear();
    this.#outlets.connectionState.next('disconnected');
    await (this.#nextWrite ?? this.#writing);
    this.#store?.close();
  }
}

function inviteMessage(leg: Leg, remainingMs: number): InviteMessage {
  const message: InviteMessage = {
    v: PROTOCOL_VERSION,
    kind: 'invite',
    invitationID: leg.invitationID,
    inviterName: leg.inviterName,
    type: leg.type,
    data: leg.data,
    remainingMs,
  };
  if (leg.notification) message.notification = leg.notification;
  return message;
}

function composeOwed(leg: Leg, kind: OutgoingKind, remainingMs: number): Message {
  if (kind === 'invite') return inviteMessage(leg, remainingMs);
  return { v: PROTOCOL_VERSION, kind, invitationID: leg.invitationID, data: leg.outboxData, remainingMs };
}

/** The longest `remainingMs` a message can carry: what size checks assume. */
const MAX_REMAINING_MS = MAX_TIMEOUT_SECONDS * 1000;

/** JSON escaping can grow `data` past what PeerJS's channel takes: refuse rather than fail later. */
function checkEncodedSize(message: Message): InvitationError | undefined {
  const size = encodedSize(message);
  if (size <= MAX_MESSAGE_BYTES) return undefined;
  return new InvitationError('DATA_TOO_LARGE', `The ${message.kind} encodes to ${size} bytes, over the ${MAX_MESSAGE_BYTES} a message may take`);
}

/** What an invitee is told when its answer does not count; a repeated answer is simply acknowledged. */
function rejectionOf(code: InvitationErrorCode): AnswerRejection | undefined {
  if (code === 'EXPIRED') return 'expired';
  if (code === 'CANCELED') return 'canceled';
  return undefined;
}

function checkInviteeList(invitees: unknown): InvitationError | undefined {
  if (invitees === undefined || (Array.isArray(invitees) && invitees.every((id) => typeof id === 'string'))) return undefined;
  return new InvitationError('INVALID_ARGUMENT', 'invitees must be an array of user ids');
}

function refusalMessage(code: InvitationErrorCode, invitationID: string): string {
  switch (code) {
    case 'ALREADY_RESPONDED':
      return `Invitation "${invitationID}" was already answered`;
    case 'CANCELED':
      return `Invitation "${invitationID}" was canceled by its inviter`;
    case 'EXPIRED':
      return `Invitation "${invitationID}" has expired`;
    default:
      return `Invitation "${invitationID}" cannot be answered (${code})`;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
