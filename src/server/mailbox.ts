/**
 * Messages for ids registered nowhere, oldest first per recipient, each until it expires, within
 * quotas per sender, per recipient and in total (messages and bytes). Full means refused: the
 * caller tells the sender (EXPIRE); nothing already parked is ever evicted to make room.
 */
import type { MailboxQuota, ServerLimits } from './limits.js';

/** A signaling message as relayed: `src` set by the server. */
export interface Relayed {
  type: string;
  src: string;
  dst: string;
  payload?: unknown;
}

export interface Parked {
  message: Relayed;
  until: number;
  bytes: number;
}

/** LEAVE (and anything else) for an id registered nowhere is dropped, as PeerServer does; a RELAY waits like an OFFER. */
export const PARKED_TYPES = new Set(['OFFER', 'ANSWER', 'CANDIDATE', 'RELAY']);

export type ParkOutcome = 'parked' | 'full' | 'not-parked';

const EXPIRY_SWEEP_MS = 1000;

interface Usage {
  messages: number;
  bytes: number;
}

export class Mailbox {
  readonly #byRecipient = new Map<string, Parked[]>();
  readonly #recipientBytes = new Map<string, number>();
  readonly #bySender = new Map<string, Usage>();
  readonly #total: Usage = { messages: 0, bytes: 0 };
  readonly #quotas: ServerLimits['mailbox'];
  readonly #expireTimeoutMs: number;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  /** `onExpired` hears each expired message (the caller sends EXPIRE to the sender of an OFFER). */
  constructor({ quotas, expireTimeoutMs, onExpired, now = Date.now }: { quotas: ServerLimits['mailbox']; expireTimeoutMs: number; onExpired: (expired: Relayed[]) => void; now?: () => number }) {
    this.#quotas = quotas;
    this.#expireTimeoutMs = expireTimeoutMs;
    this.#now = now;
    this.#sweep = setInterval(() => {
      const expired = this.#expire();
      if (expired.length > 0) onExpired(expired);
    }, EXPIRY_SWEEP_MS);
    this.#sweep.unref();
  }

  /** Parks `message` (until `until`, by default `expireTimeoutMs` from now) if every quota has room. */
  park(message: Relayed, until = this.#now() + this.#expireTimeoutMs): ParkOutcome {
    if (!PARKED_TYPES.has(message.type)) return 'not-parked';
    const bytes = Buffer.byteLength(JSON.stringify(message));
    const waiting = this.#byRecipient.get(message.dst) ?? [];
    const sender = this.#bySender.get(message.src) ?? { messages: 0, bytes: 0 };
    const recipient = { messages: waiting.length, bytes: this.#recipientBytes.get(message.dst) ?? 0 };
    const fits = (usage: Usage, quota: MailboxQuota) => usage.messages + 1 <= quota.messages && usage.bytes + bytes <= quota.bytes;
    if (!fits(this.#total, this.#quotas.total) || !fits(sender, this.#quotas.perSender) || !fits(recipient, this.#quotas.perRecipient)) return 'full';
    waiting.push({ message, until, bytes });
    this.#byRecipient.set(message.dst, waiting);
    this.#count(message, 1, bytes);
    return 'parked';
  }

  has(recipient: string): boolean {
    return this.#byRecipient.has(recipient);
  }

  /** Everything waiting for `recipient`, oldest first, taken out of the mailbox. */
  take(recipient: string): Parked[] {
    const waiting = this.#byRecipient.get(recipient) ?? [];
    this.#byRecipient.delete(recipient);
    for (const { message, bytes } of waiting) this.#count(message, -1, bytes);
    return waiting;
  }

  /** Takes out what waits for `recipient` and `match` picks; returns those messages. */
  drop(recipient: string, match: (message: Relayed) => boolean): Relayed[] {
    const waiting = this.#byRecipient.get(recipient) ?? [];
    const gone = waiting.filter(({ message }) => match(message));
    if (gone.length === 0) return [];
    const left = waiting.filter(({ message }) => !match(message));
    if (left.length > 0) this.#byRecipient.set(recipient, left);
    else this.#byRecipient.delete(recipient);
    for (const { message, bytes } of gone) this.#count(message, -1, bytes);
    return gone.map(({ message }) => message);
  }

  recipients(): string[] {
    return [...this.#byRecipient.keys()];
  }

  get messages(): number {
    return this.#total.messages;
  }

  get bytes(): number {
    return this.#total.bytes;
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  #count({ src, dst }: Relayed, messages: number, bytes: number): void {
    this.#total.messages += messages;
    this.#total.bytes += bytes;
    const usage = this.#bySender.get(src) ?? { messages: 0, bytes: 0 };
    usage.messages += messages;
    usage.bytes += bytes;
    if (usage.messages === 0) this.#bySender.delete(src);
    else this.#bySender.set(src, usage);
    const recipientBytes = (this.#recipientBytes.get(dst) ?? 0) + bytes;
    if (recipientBytes === 0) this.#recipientBytes.delete(dst);
    else this.#recipientBytes.set(dst, recipientBytes);
  }

  #expire(): Relayed[] {
    const now = this.#now();
    const expired: Relayed[] = [];
    for (const [recipient, waiting] of this.#byRecipient) {
      const gone = waiting.filter(({ until }) => until <= now);
      if (gone.length === 0) continue;
      const left = waiting.filter(({ until }) => until > now);
      if (left.length > 0) this.#byRecipient.set(recipient, left);
      else this.#byRecipient.delete(recipient);
      for (const { message, bytes } of gone) {
        this.#count(message, -1, bytes);
        expired.push(message);
      }
    }
    return expired;
  }
}
