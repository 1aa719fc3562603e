/**
 * Where each message of a registered client goes, on one server or a cluster: to a client
 * registered here (through PeerServer, which relays it), to the node holding its destination
 * (`onward`, set by the cluster), or into the bounded mailbox for an id registered nowhere.
 * Every frame is admitted by the client limits first; PeerServer never parks anything itself.
 */
import type { RawData } from 'ws';
import type { ClientLimits, LimitKind } from './limits.js';
import type { Mailbox, ParkOutcome, Relayed } from './mailbox.js';
import type { ServerCounters } from './metrics.js';
import type { RoutedWebSocket } from './routed-web-socket.js';

/** How a message leaves this node (the cluster): resolves false when no node holds its `dst`. */
export interface Onward {
  forward(message: Relayed): Promise<boolean>;
}

/** What a client may send, and what each costs; anything else is dropped as a violation. */
const KIND_OF: Record<string, LimitKind> = { OFFER: 'offer', ANSWER: 'answer', CANDIDATE: 'candidate', LEAVE: 'leave', HEARTBEAT: 'heartbeat' };
const ROUTED_TYPES = new Set(['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE']);
/**
 * A frame the server answers itself (RELAY, PUSH-SUBSCRIBE, ...): admitted as `kind`, never seen
 * by PeerServer, handled in order with the client's other frames (after those still on their way
 * to another node). Over its rate it goes to `limited` when given (the relay says RELAY-REFUSED),
 * else it is dropped.
 */
export interface ServedFrame {
  kind: LimitKind;
  handle(userId: string, message: ClientFrame, reply: (frame: object) => void): void | Promise<void>;
  limited?(userId: string, message: ClientFrame, reply: (frame: object) => void): void;
}

export interface ClientFrame {
  type: string;
  dst?: unknown;
  payload?: unknown;
}

/** A sender refused by a full mailbox hears EXPIRE for a destination at most this often. */
const EXPIRE_REPEAT_MS = 1000;

export class Switchboard {
  /** Ids registered on this node, and their sockets. */
  readonly clients = new Map<string, RoutedWebSocket>();
  onward: Onward | undefined;
  /** Hears each message as it is first parked for an id registered nowhere (Web Push rings there). */
  onParked: ((message: Relayed) => void) | undefined;
  readonly #served = new Map<string, ServedFrame>();
  readonly #limits: ClientLimits;
  readonly #mailbox: Mailbox;
  readonly #counters: ServerCounters;
  readonly #toldFull = new Map<string, number>();

  constructor({ limits, mailbox, counters }: { limits: ClientLimits; mailbox: Mailbox; counters: ServerCounters }) {
    this.#limits = limits;
    this.#mailbox = mailbox;
    this.#counters = counters;
  }

  /** PeerServer registered `userId` on `socket` (a first registration or a reconnect): route its messages, hand over what waits for it. */
  registered(userId: string, socket: RoutedWebSocket): void {
    this.clients.set(userId, socket);
    socket.route = this.#router(userId);
    for (const { message } of this.#mailbox.take(userId)) this.#sendHere(socket, message);
  }

  /** PeerServer let `userId` go (its socket closed, or it stayed silent too long). */
  unregistered(userId: string, socket: unknown): void {
    if (this.clients.get(userId) === socket) this.clients.delete(userId);
  }

  /** Sends `message` to its `dst`, here or on the node holding it; false when none does. */
  async send(message: Relayed): Promise<boolean> {
    const holder = this.clients.get(message.dst);
    if (holder) return this.#sendHere(holder, message), true;
    return (await this.onward?.forward(message)) ?? false;
  }

  /** Frames of `type` from registered clients go to `frame` (after their limit), not to PeerServer. */
  serve(type: string, frame: ServedFrame): void {
    this.#served.set(type, frame);
  }

  /**
   * A message with `src` set by the server (a client's RELAY, or the server's own): to `dst` here
   * or on its node, else parked like an OFFER; 'full' when the mailbox refuses it (the caller tells
   * the sender: RELAY-REFUSED, not EXPIRE).
   */
  async sendOrPark(message: Relayed): Promise<'sent' | 'parked' | 'full'> {
    if (await this.send(message).catch(() => false)) return 'sent';
    return this.#park(message) === 'parked' ? 'parked' : 'full';
  }

  /**
   * Takes out of this node's mailbox what waits for `dst` and `match` picks (a declined invitation's
   * copies). The sender of a dropped OFFER hears EXPIRE, as at its expiry: its PeerJS connection
   * stops waiting for an answer that cannot come, and what it still owes goes on a new OFFER.
   */
  dropParked(dst: string, match: (message: Relayed) => boolean): Relayed[] {
    const dropped = this.#mailbox.drop(dst, match);
    this.expired(dropped);
    return dropped;
  }

  /** A message from another node for a client of this one. */
  deliverHere(message: Relayed): void {
    const holder = this.clients.get(message.dst);
    // Counted as relayed on the node it came from.
    if (holder) holder.send(JSON.stringify(message));
    // Gone since the sender looked it up: tell the sender's PeerJS, as PeerServer does for an offer that expires.
    else if (message.type === 'OFFER') void this.send({ type: 'EXPIRE', src: message.dst, dst: message.src }).catch(() => {});
  }

  /** `userId` registered on another node: what waits for it here goes there, in order. */
  async sendParked(userId: string): Promise<void> {
    for (const { message, until } of this.#mailbox.take(userId)) {
      if (!(await this.send(message).catch(() => false))) this.#park(message, until);
    }
  }

  /** The mailbox let these go: each sender of an expired OFFER hears EXPIRE (PeerJS: `peer-unavailable`), as from PeerServer. */
  expired(messages: Relayed[]): void {
    const told = new Set<string>();
    for (const { type, src, dst } of messages) {
      if (type !== 'OFFER' || told.has(`${src}\n${dst}`)) continue;
      told.add(`${src}\n${dst}`);
      void this.send({ type: 'EXPIRE', src: dst, dst: src }).catch(() => {});
    }
  }

  #sendHere(socket: RoutedWebSocket, message: Relayed): void {
    socket.send(JSON.stringify(message));
    this.#counters.relayed.inc({ type: message.type });
  }

  /** Parks `message`; a full mailbox refuses it, and its sender hears EXPIRE so that its plugin retries later. */
  #park(message: Relayed, until?: number): ParkOutcome {
    const outcome = this.#mailbox.park(message, until);
    if (outcome === 'parked') this.#counters.parked.inc({ type: message.type });
    // Parked again after a failed handover (`until` kept) is not news.
    if (outcome === 'parked' && until === undefined) this.onParked?.(message);
    if (outcome !== 'full') return outcome;
    this.#counters.refusals.inc({ reason: 'mailbox_full' });
    // A RELAY's sender hears RELAY-REFUSED "full" from whoever sent it on (sendOrPark's caller).
    if (message.type === 'RELAY') return outcome;
    const key = `${message.src}\n${message.dst}`;
    const now = Date.now();
    if (now - (this.#toldFull.get(key) ?? -Infinity) < EXPIRE_REPEAT_MS) return outcome;
    if (this.#toldFull.size > 10_000) this.#toldFull.clear();
    this.#toldFull.set(key, now);
    void this.send({ type: 'EXPIRE', src: message.dst, dst: message.src }).catch(() => {});
    return outcome;
  }

  /** Messages here go to PeerServer only while their `dst` is registered here: PeerServer would park the rest without bound. */
  #deliverLocal(relayed: Relayed | undefined, deliver: () => void): void {
    if (relayed && !this.clients.has(relayed.dst)) {
      this.#park(relayed);
      return;
    }
    deliver();
    if (relayed) this.#counters.relayed.inc({ type: relayed.type });
  }

  /**
   * A client's messages, admitted by its limits, in order: those for ids registered here go to
   * PeerServer; those for another node's ids go to that node, with `src` set here; those for ids
   * registered nowhere wait in the mailbox.
   */
  #router(userId: string) {
    let queue = Promise.resolve();
    let waiting = 0;
    return (data: RawData, deliver: () => void): void => {
      const message = parse(data);
      const served = message && this.#served.get(message.type);
      if (served) {
        const admission = this.#limits.admit(userId, served.kind);
        const reply = (frame: object) => this.clients.get(userId)?.send(JSON.stringify(frame));
        // Cut off: the limits' listener closed this client; frames still in its pipe go nowhere. Over its
        // rate, a frame with its own answer (`limited`: RELAY-REFUSED) counts that refusal itself.
        if (admission === 'cut-off' || (admission === 'limited' && !served.limited)) {
          this.#counters.refusals.inc({ reason: admission === 'limited' ? 'rate_limited' : 'cut_off' });
          return;
        }
        const handle = admission === 'admitted' ? () => served.handle(userId, message!, reply) : () => served.limited!(userId, message!, reply);
        if (waiting === 0) return void handle();
        waiting++;
        queue = queue.then(handle).finally(() => {
          waiting--;
        });
        return;
      }
      const kind = message && KIND_OF[message.type];
      const routed = message && ROUTED_TYPES.has(message.type) && message.dst !== undefined;
      if (!message || !kind || (routed && typeof message.dst !== 'string')) {
        this.#counters.refusals.inc({ reason: 'invalid_message' });
        this.#limits.violation(userId, 'a message that is not a PeerServer message');
        return;
      }
      const admission = this.#limits.admit(userId, kind);
      if (admission !== 'admitted') {
        this.#counters.refusals.inc({ reason: admission === 'limited' ? 'rate_limited' : 'cut_off' });
        // Cut off: the limits' listener closed this client; frames still in its pipe go nowhere.
        return;
      }
      const relayed: Relayed | undefined = routed ? { type: message.type, src: userId, dst: message.dst as string, payload: message.payload } : undefined;
      const local = !relayed || this.clients.has(relayed.dst);
      if (local && waiting === 0) return this.#deliverLocal(relayed, deliver);
      const onward = this.onward;
      if (!onward) {
        this.#park(relayed!);
        return;
      }
      waiting++;
      queue = queue
        .then(async () => {
          if (local) return this.#deliverLocal(relayed, deliver);
          if (await onward.forward(relayed!).catch(() => false)) this.#counters.relayed.inc({ type: relayed!.type });
          else this.#park(relayed!);
        })
        .finally(() => {
          waiting--;
        });
    };
  }
}

function parse(data: RawData): ClientFrame | undefined {
  try {
    const message = JSON.parse(String(data)) as unknown;
    if (typeof message !== 'object' || message === null || typeof (message as { type?: unknown }).type !== 'string') return undefined;
    return message as ClientFrame;
  } catch {
    return undefined;
  }
}
