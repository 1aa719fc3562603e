/**
 * Gets owed messages to their peers: connects, writes, waits for each ack, and
 * retries with capped backoff until the message is acked or its leg expires.
 * It knows nothing of invitations: the plugin says what is owed and hears acks.
 */
import { Subscription, timer, type SchedulerLike } from 'rxjs';
import type { AckMessage, Message, OutgoingKind } from './protocol.js';
import type { Transport } from './transport.js';
import type { ResolvedDeliveryOptions } from './types.js';

export interface OwedMessage {
  kind: OutgoingKind;
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
  connecting: boolean;
  attempt: number;
  retry: Subscription | undefined;
}

export class Delivery {
  readonly #couriers = new Map<string, Courier>();
  #closed = false;

  readonly #transport: Transport;
  readonly #host: DeliveryHost;
  readonly #options: ResolvedDeliveryOptions;
  readonly #scheduler: SchedulerLike;

  constructor(transport: Transport, host: DeliveryHost, options: ResolvedDeliveryOptions, scheduler: SchedulerLike) {
    this.#transport = transport;
    this.#host = host;
    this.#options = options;
    this.#scheduler = scheduler;
  }

  /** Sends what is owed to `peer` now, unless a connection attempt is already under way. */
  kick(peer: string): void {
    if (this.#closed) return;
    const courier = this.#courier(peer);
    if (courier.connecting) return;
    if (!this.#host.owed(peer).some((message) => !courier.inFlight.has(flightKey(message)))) {
      this.#forgetIfIdle(peer, courier);
      return;
    }
    courier.retry?.unsubscribe();
    courier.retry = undefined;
    // On an open connection, write now: a promise turn per message shows in warm latency.
    if (this.#transport.isOpen(peer)) {
      this.#write(peer, courier);
      return;
    }
    courier.connecting = true;
    this.#transport.connect(peer).then(
      () => {
        courier.connecting = false;
        this.#write(peer, courier);
      },
      () => {
        courier.connecting = false;
        this.#failed(peer, courier);
      },
    );
  }

  /** The peer is online: forget the backoff and try at once. */
  peerOnline(peer: string): void {
    const courier = this.#couriers.get(peer);
    if (courier) courier.attempt = 0;
    this.kick(peer);
  }

  acked(peer: string, ack: AckMessage): void {
    const courier = this.#couriers.get(peer);
    if (!courier) return;
    const key = `${ack.of}/${ack.invitationID}`;
    courier.inFlight.get(key)?.unsubscribe();
    courier.inFlight.delete(key);
    courier.attempt = 0;
    this.#forgetIfIdle(peer, courier);
  }

  /** Nothing in flight, scheduled or connecting: the courier has done its job. */
  #forgetIfIdle(peer: string, courier: Courier): void {
    if (!courier.connecting && !courier.retry && courier.inFlight.size === 0) this.#couriers.delete(peer);
  }

  #write(peer: string, courier: Courier): void {
    if (this.#closed) return;
    for (const message of this.#host.owed(peer)) {
      const key = flightKey(message);
      if (courier.inFlight.has(key)) continue;
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

  /** Schedules one retry, however many messages failed together. */
  #failed(peer: string, courier: Courier): void {
    if (this.#closed || courier.retry) return;
    const delay = Math.min(this.#options.retryMaxDelayMs, this.#options.retryInitialDelayMs * 2 ** courier.attempt);
    courier.attempt++;
    courier.retry = timer(delay, this.#scheduler).subscribe(() => {
      courier.retry = undefined;
      this.kick(peer);
    });
  }

  #courier(peer: string): Courier {
    let courier = this.#couriers.get(peer);
    if (!courier) {
      courier = { inFlight: new Map(), connecting: false, attempt: 0, retry: undefined };
      this.#couriers.set(peer, courier);
    }
    return courier;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
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
