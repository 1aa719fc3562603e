/**
 * The relay: a protocol message from one registered client to another through the server's
 * WebSocket, for when no data channel between them opens (no path, no TURN). The sender is
 * the id its socket registered as (`src` is set here, never read from the frame); the
 * payload is read only as far as "a JSON object" and its size. Its rate is the client's
 * `relay` limit (limits.ts); a message for an id registered nowhere waits in the mailbox like
 * an OFFER. Refusals go back to the sender as RELAY-REFUSED, never as ERROR (PeerJS destroys
 * its Peer on ERROR).
 */
import type { Admission } from './limits.js';

/** Room for `type`, `src` and `dst` beside the payload's limit (`limits.maxRelayBytes`) in the JSON of a whole RELAY. */
export const RELAY_FRAME_OVERHEAD_BYTES = 200;

export type RelayRefusal = 'size' | 'rate' | 'off' | 'full';

/** A RELAY as the server sends it on. */
export interface RelayedMessage {
  type: 'RELAY';
  src: string;
  dst: string;
  payload: object;
}

export interface RelayOptions {
  enabled: boolean;
  /** The largest payload (`limits.maxRelayBytes`). */
  maxPayloadBytes: number;
  /** Hands a message on: to its recipient here, the node holding it, or the mailbox. */
  handOver: (message: RelayedMessage) => Promise<'sent' | 'parked' | 'full'>;
  /** Counts a refusal (metrics). */
  refused?: (reason: RelayRefusal) => void;
}

/** Reads a RELAY frame of the client registered as `src`, hands it on or refuses it to its sender (`reply`). */
export function createRelay({ enabled, maxPayloadBytes, handOver, refused = () => {} }: RelayOptions) {
  const maxFrameBytes = maxPayloadBytes + RELAY_FRAME_OVERHEAD_BYTES;
  return async (src: string, frame: { dst?: unknown; payload?: unknown }, admission: Admission, reply: (message: object) => void): Promise<void> => {
    // Cut off: the limits closed this client; what is still in its pipe goes nowhere.
    if (admission === 'cut-off') return;
    const { dst, payload } = frame;
    // Nobody's message: dropped (the rate already counted it).
    if (typeof dst !== 'string' || dst === '' || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return;
    const refuse = (reason: RelayRefusal) => {
      refused(reason);
      reply({ type: 'RELAY-REFUSED', dst, payload: { reason } });
    };
    if (!enabled) return refuse('off');
    if (admission === 'limited') return refuse('rate');
    const message: RelayedMessage = { type: 'RELAY', src, dst, payload };
    if (Buffer.byteLength(JSON.stringify(message)) > maxFrameBytes) return refuse('size');
    if ((await handOver(message).catch(() => 'full' as const)) === 'full') refuse('full');
  };
}
