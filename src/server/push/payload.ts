/**
 * What a push says (the plaintext the service worker reads, encrypted to the subscription's keys
 * by RFC 8291): who calls (the id as the server saw it, the name as the inviter claimed it), the
 * call type, the deadline, the app's notification texts and the decline capability. Never the
 * invitation's `data`: the push service and the device's OS see only ciphertext, but the less
 * the lock screen can show, the better.
 */
import { createHash } from 'node:crypto';

export interface RingPayload {
  v: 1;
  kind: 'ring';
  invitationID: string;
  /** Attested by the server: the id the inviter's socket registered with. */
  inviterID: string;
  /** As the inviter claimed it: display only. */
  inviterName: string;
  type: number;
  /** Unix ms: after it, the service worker shows nothing. */
  deadline: number;
  title?: string;
  message?: string;
  /** POST it to `<server><path>/push/decline` to refuse. */
  decline: string;
}

export interface MissedPayload {
  v: 1;
  kind: 'missed';
  invitationID: string;
  inviterID: string;
  inviterName: string;
  type: number;
  reason: 'canceled' | 'timeout';
}

/** Texts are cut to this many characters, so that a payload stays far below the 4 KB push services take. */
const MAX_TEXT = 256;

export function cut(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const chars = [...text];
  return chars.length <= MAX_TEXT ? text : `${chars.slice(0, MAX_TEXT - 1).join('')}…`;
}

/** The `Topic` header (RFC 8030 §5.4: at most 32 base64url characters) of every push about one invitation. */
export function topicOf(invitationID: string, inviteeID: string): string {
  return createHash('sha256').update(`peer-invitation topic\n${inviteeID}\n${invitationID}`).digest('base64url').slice(0, 32);
}
