/**
 * Gets owed messages to their peers: connects, writes, waits for each ack, and
 * retries with capped backoff until the message is acked or its leg expires.
 * It knows nothing of invitations: the plugin says what is owed and hears acks.
 */
import { Subscription, timer, type SchedulerLike } from 'rxjs';
import { backoffDelay } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import { HELLO, type AckMessage, type DeliveredKind, type Message } from '../core/protocol.js';
import type { Transport } from '../transport/transport.js';
import type { ResolvedDeliveryOptions } from '../api/types.js';

export interface OwedMessage {
  kind: DeliveredKind;
  invitationID: string;
  /** Built when written, so that `remainingMs` is measured at that moment. */
  compose(): Message;
}

export interface DeliveryHost {
  /** What is owed to `peer` now (unexpired legs with an outbox). */
  owed(peer: string): OwedMessage[];
  /** The message went onto an open channel. */
  wired(peer: string, message: OwedMessage): void;
}

interface Courier {
  /** Ack timers of messages written and not yet acked, by `kind/invitationID`. */
  readonly inFlight: Map<string, Subscription>;
  /** A flush is queued for the end of this task: kicks in between need no work of their own. */
  flushQueued: boolean;
  connecting: boolean;
  /** A connection attempt is under way (it may never open: no path, ICE still checking). */
  dialing: boolean;
  /** When the current (or last) connection attempt began. */
  attemptStartedAt: number;
  attempt: number;
  retry: Subscription | undefined;
}

export class Delivery {
  readonly #couriers = new Map<string, Courier>();
  #closed = false;
  /** Our subscriptions to the transport's link events. */
  readonly #links = new Subscription();

  readonly #transport: Transport;
  readonly #host: DeliveryHost;
  readonly #options: ResolvedDeliveryOptions;
  readonly #scheduler: SchedulerLike;
  readonly #clock: Clock;

  constructor(transport: Transport, host: DeliveryHost, options: ResolvedDeliveryOptions, scheduler: SchedulerLike, clock: Clock) {
    this.#transport = transport;
    this.#host = host;
    this.#options = options;
    this.#scheduler = scheduler;
    this.#clock = clock;
    this.#links.add(transport.linkOpened$.subscribe((peer) => this.peerOnline(peer)));
    // What was written on a link that closed may be lost: another one still open is the way to resend it now.
    this.#links.add(transport.linkClosed$.subscribe((peer) => transport.isOpen(peer) && this.peerOnline(peer)));
  }

  /**
   * Sends what is owed to `peer` at the end of the current task: a burst of
   * invitations to one peer is then one pass over what it is owed, not one each.
   */
  kick(peer: string): void {
    if (this.#closed) return;
    const courier = this.#courier(peer);
    if (courier.flushQueued) return;
    courier.flushQueued = true;
    queueMicrotask(() => {
      courier.flushQueued = false;
      this.#flush(peer, courier);
    });
  }

  #flush(peer: string, courier: Courier): void {
    if (this.#closed) return;
    if (courier.connecting) {
      // What became owed while a connection is still opening (an answer, a cancel, a resend) goes
      // through the relay now, not after ICE gives up (~15 s in Chromium with no path).
      if (courier.dialing && !this.#transport.isOpen(peer) && this.#transport.canRelay()) {
        const owedNow = this.#host.owed(peer).filter((message) => !courier.inFlight.has(flightKey(message)));
        if (owedNow.length > 0) this.#write(peer, courier, owedNow);
      }
      return;
    }
    const pending = this.#host.owed(peer).filter((message) => !courier.inFlight.has(flightKey(message)));
    if (pending.length === 0) {
      this.#forgetIfIdle(peer, courier);
      return;
    }
    courier.retry?.unsubscribe();
    courier.retry = undefined;
    if (this.#transport.isOpen(peer)) {
      this.#write(peer, courier, pending);
      return;
    }
    courier.connecting = true;
    // A macrotask first: what is owed then leaves at once (on the offer), and an app that cancels
    // or answers the moment it hears of the change (its `queued`, its ring) is not overtaken.
    timer(0, this.#scheduler).subscribe(() => this.#reach(peer, courier));
  }

  /**
   * No open channel: through the server's relay at once if it has one, and in any case on the
   * offer of a new connection, which carries everything owed (it rings even if ICE never completes).
   */
  #reach(peer: string, courier: Courier): void {
    courier.connecting = false;
    if (this.#closed) return;
    const owed = this.#host.owed(peer);
    const pending = owed.filter((message) => !courier.inFlight.has(flightKey(message)));
    if (pending.length === 0) return this.#forgetIfIdle(peer, courier);
    if (this.#transport.isOpen(peer)) return this.#write(peer, courier, pending);
    if (this.#transport.canRelay()) this.#write(peer, courier, pending);
    // What rides on an offer may ring there even if no channel ever opens (or the server parks the offer).
    if (this.#transport.offersCarryRing) for (const message of owed) this.#host.wired(peer, message);
    courier.connecting = true;
    courier.dialing = true;
    courier.attemptStartedAt = this.#clock.now();
    this.#transport.connect(peer, owed.map((message) => message.compose())).then(
      () => {
        courier.connecting = false;
        courier.dialing = false;
        // What is owed may have changed while connecting (an answer, a cancel, the deadline).
        this.#flush(peer, courier);
      },
      () => {
        courier.connecting = false;
        courier.dialing = false;
        this.#failed(peer, courier);
      },
    );
  }

  /** Says hello to a peer that may owe us something (the transport paces connections to offline peers). */
  hello(peer: string): void {
    if (this.#closed) return;
    if (!this.#transport.isOpen(peer) && this.#transport.canRelay()) this.#sayHello(peer);
    this.#transport.connect(peer, [HELLO]).then(() => this.#sayHello(peer), () => {});
  }

  #sayHello(peer: string): void {
    try {
      this.#transport.send(peer, HELLO);
    } catch {
      // The connection closed in between; hello is a courtesy, not a promise.
    }
  }

  /**
   * A connection with the peer opened: it is online. Forget the backoff and send at
   * once, including what is in flight: that may have gone down an older connection
   * the peer already left (a reload), and would otherwise wait out its ack timeout.
   */
  peerOnline(peer: string): void {
    const courier = this.#couriers.get(peer);
    if (courier) {
      courier.attempt = 0;
      for (const ackTimer of courier.inFlight.values()) ackTimer.unsubscribe();
      courier.inFlight.clear();
    }
    this.kick(peer);
  }

  acked(peer: string, ack: AckMessage): void {
    const courier = this.#couriers.get(peer);
    if (!courier) return;
    const key = flightKey({ kind: ack.of, invitationID: ack.invitationID });
    courier.inFlight.get(key)?.unsubscribe();
    courier.inFlight.delete(key);
    courier.attempt = 0;
    this.#forgetIfIdle(peer, courier);
  }

  /** Nothing in flight, queued, scheduled or connecting: the courier has done its job. */
  #forgetIfIdle(peer: string, courier: Courier): void {
    if (!courier.flushQueued && !courier.connecting && !courier.retry && courier.inFlight.size === 0) this.#couriers.delete(peer);
  }

  #write(peer: string, courier: Courier, messages: OwedMessage[]): void {
    for (const message of messages) {
      const key = flightKey(message);
      try {
        this.#transport.send(peer, message.compose());
      } catch {
        this.#failed(peer, courier);
        return;
      }
      this.#host.wired(peer, message);
      courier.inFlight.set(
        key,
        timer(this.#options.ackTimeoutMs, this.#scheduler).subscribe(() => {
          courier.inFlight.delete(key);
          this.#failed(peer, courier);
        }),
      );
    }
  }

  /**
   * Schedules one retry, however many messages failed together. The backoff
   * counts from the start of the failed attempt: an attempt on an offline peer
   * already waited out the PeerServer's `expire_timeout`, and retrying at once
   * keeps an offer parked there, ready for the moment the peer registers.
   */
  #failed(peer: string, courier: Courier): void {
    if (this.#closed || courier.retry) return;
    const backoff = backoffDelay(courier.attempt, this.#options.retryInitialDelayMs, this.#options.retryMaxDelayMs);
    const delay = Math.max(0, backoff - (this.#clock.now() - courier.attemptStartedAt));
    courier.attempt++;
    courier.retry = timer(delay, this.#scheduler).subscribe(() => {
      courier.retry = undefined;
      this.kick(peer);
    });
  }

  #courier(peer: string): Courier {
    let courier = this.#couriers.get(peer);
    if (!courier) {
      courier = { inFlight: new Map(), flushQueued: false, connecting: false, dialing: false, attemptStartedAt: 0, attempt: 0, retry: undefined };
      this.#couriers.set(peer, courier);
    }
    return courier;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#links.unsubscribe();
    for (const courier of this.#couriers.values()) {
      courier.retry?.unsubscribe();
      for (const ackTimer of courier.inFlight.values()) ackTimer.unsubscribe();
    }
    this.#couriers.clear();
  }
}

function flightKey(message: Pick<OwedMessage, 'kind' | 'invitationID'>): string {
  return `${message.kind}/${message.invitationID}`;
}
