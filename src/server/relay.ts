/**
 * The relay: a protocol message from one registered client to another through the server's
 * WebSocket, for when no data channel between them opens (no path, no TURN). The sender is
 * the id its socket registered as (`src` is set here, never read from the frame); the
 * payload is read only as far as "a JSON object" and its size. A message for an id
 * registered nowhere waits like an OFFER. Refusals go back to the sender as RELAY-REFUSED,
 * never as ERROR (PeerJS destroys its Peer on ERROR).
 */

/** The largest protocol message the plugin writes (its data-channel frame limit). */
export const MAX_RELAY_PAYLOAD_BYTES = 16_000;
/** The JSON of a whole RELAY frame: the payload's limit and room for `type`, `src` and `dst`. */
export const MAX_RELAY_FRAME_BYTES = MAX_RELAY_PAYLOAD_BYTES + 200;

export type RelayRefusal = 'size' | 'rate' | 'off' | 'full';

/** A RELAY as the server sends it on. */
export interface RelayedMessage {
  type: 'RELAY';
  src: string;
  dst: string;
  payload: object;
}

/** What became of a message handed on: on its way to the recipient, waiting for it to register, or refused (mailbox full). */
export type Handover = 'sent' | 'parked' | 'full';

export interface Rate {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: what may come at once after a quiet spell. */
  burst: number;
}

/** Per client: far above an honest plugin (one message per invitee and answer, a resend after an outage). */
export const DEFAULT_RELAY_RATE: Rate = { perSecond: 20, burst: 200 };

export interface RelayOptions {
  enabled: boolean;
  /** Hands a message on: to its recipient here, the node holding it, or the mailbox. */
  handOver: (message: RelayedMessage) => Handover | Promise<Handover>;
  rate?: Rate;
  now?: () => number;
}

/** Reads RELAY frames of registered clients and hands them on, or refuses them to their sender. */
export class Relay {
  readonly enabled: boolean;
  readonly #handOver: RelayOptions['handOver'];
  readonly #rate: Rate;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor({ enabled, handOver, rate = DEFAULT_RELAY_RATE, now = Date.now }: RelayOptions) {
    this.enabled = enabled;
    this.#handOver = handOver;
    this.#rate = rate;
    this.#now = now;
  }

  /**
   * A frame of type RELAY from the client registered as `src`; `reply` sends to that client.
   * A frame without a string `dst` or an object `payload` is dropped: it is nobody's message.
   */
  async receive(src: string, frame: { dst?: unknown; payload?: unknown }, reply: (message: object) => void): Promise<void> {
    const { dst, payload } = frame;
    if (typeof dst !== 'string' || dst === '' || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return;
    const refuse = (reason: RelayRefusal) => reply({ type: 'RELAY-REFUSED', dst, payload: { reason } });
    if (!this.enabled) return refuse('off');
    const message: RelayedMessage = { type: 'RELAY', src, dst, payload };
    if (Buffer.byteLength(JSON.stringify(message)) > MAX_RELAY_FRAME_BYTES) return refuse('size');
    if (!this.#take(src)) return refuse('rate');
    const outcome = await Promise.resolve(this.#handOver(message)).catch((): Handover => 'full');
    if (outcome === 'full') refuse('full');
  }

  /** Forgets the bucket of a client that left (a full bucket is what a new one starts with). */
  forget(src: string): void {
    const bucket = this.#buckets.get(src);
    if (bucket && this.#level(bucket) >= this.#rate.burst) this.#buckets.delete(src);
  }

  #level(bucket: { tokens: number; at: number }): number {
    return Math.min(this.#rate.burst, bucket.tokens + ((this.#now() - bucket.at) / 1000) * this.#rate.perSecond);
  }

  #take(src: string): boolean {
    const now = this.#now();
    const bucket = this.#buckets.get(src) ?? { tokens: this.#rate.burst, at: now };
    bucket.tokens = this.#level(bucket);
    bucket.at = now;
    this.#buckets.set(src, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export interface MailboxQuota {
  messages: number;
  bytes: number;
}

/** The quotas of the single server's mailbox for relayed messages. */
export const DEFAULT_RELAY_MAILBOX = {
  perSender: { messages: 2000, bytes: 4 * 2 ** 20 },
  perRecipient: { messages: 1000, bytes: 2 * 2 ** 20 },
  total: { messages: 100_000, bytes: 64 * 2 ** 20 },
};

/** Relayed messages for ids registered nowhere (a server without a cluster), oldest first, until they expire. */
export class RelayMailbox {
  readonly #waiting = new Map<string, { message: RelayedMessage; bytes: number; until: number }[]>();
  readonly #usage = new Map<string, MailboxQuota>();
  readonly #expireMs: number;
  readonly #quotas: typeof DEFAULT_RELAY_MAILBOX;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  constructor({ expireMs, quotas = DEFAULT_RELAY_MAILBOX, now = Date.now }: { expireMs: number; quotas?: typeof DEFAULT_RELAY_MAILBOX; now?: () => number }) {
    this.#expireMs = expireMs;
    this.#quotas = quotas;
    this.#now = now;
    this.#sweep = setInterval(() => this.#expire(), 1000).unref();
  }

  /** Keeps `message` for its recipient, unless a quota is full. */
  park(message: RelayedMessage): 'parked' | 'full' {
    const bytes = Buffer.byteLength(JSON.stringify(message));
    const fits = (key: string, quota: MailboxQuota) => {
      const usage = this.#usage.get(key) ?? { messages: 0, bytes: 0 };
      return usage.messages + 1 <= quota.messages && usage.bytes + bytes <= quota.bytes;
    };
    if (!fits('total', this.#quotas.total) || !fits(`src\n${message.src}`, this.#quotas.perSender) || !fits(`dst\n${message.dst}`, this.#quotas.perRecipient)) return 'full';
    const waiting = this.#waiting.get(message.dst) ?? [];
    waiting.push({ message, bytes, until: this.#now() + this.#expireMs });
    this.#waiting.set(message.dst, waiting);
    this.#count(message, bytes, 1);
    return 'parked';
  }

  /** What waits for `recipient` and has not expired, oldest first, taken out. */
  take(recipient: string): RelayedMessage[] {
    const waiting = this.#waiting.get(recipient) ?? [];
    this.#waiting.delete(recipient);
    for (const { message, bytes } of waiting) this.#count(message, bytes, -1);
    const now = this.#now();
    return waiting.filter(({ until }) => until > now).map(({ message }) => message);
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  #count({ src, dst }: RelayedMessage, bytes: number, sign: 1 | -1): void {
    for (const key of ['total', `src\n${src}`, `dst\n${dst}`]) {
      const usage = this.#usage.get(key) ?? { messages: 0, bytes: 0 };
      usage.messages += sign;
      usage.bytes += sign * bytes;
      if (usage.messages === 0) this.#usage.delete(key);
      else this.#usage.set(key, usage);
    }
  }

  #expire(): void {
    const now = this.#now();
    for (const [recipient, waiting] of this.#waiting) {
      const left = waiting.filter(({ until }) => until > now);
      if (left.length === waiting.length) continue;
      for (const { message, bytes, until } of waiting) if (until <= now) this.#count(message, bytes, -1);
      if (left.length > 0) this.#waiting.set(recipient, left);
      else this.#waiting.delete(recipient);
    }
  }
}
