/**
 * The relay: a protocol message from one registered client to another through the server's
 * WebSocket, for when no data channel between them opens (no path, no TURN). The sender is
 * the id its socket registered as (`src` is set here, never read from the frame); the
 * payload is read only as far as "a JSON object" and its size. Its rate is the client's
 * `relay` limit (limits.ts); a message for an id registered nowhere waits in the mailbox like
 * an OFFER. Refusals go back to the sender as RELAY-REFUSED, never as ERROR (PeerJS destroys
 * its Peer on ERROR).
 */
import type { ClientFrame, Switchboard } from './switchboard.js';

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
  /** Where RELAY frames come from, and go: to the recipient here, the node holding it, or the mailbox. */
  switchboard: Switchboard;
  /** Counts a refusal (metrics). */
  refused?: (reason: RelayRefusal) => void;
}

/** Serves clients' RELAY frames on the switchboard (at the client's `relay` rate): hands each on, or refuses it to its sender. */
export function serveRelay({ enabled, maxPayloadBytes, switchboard, refused = () => {} }: RelayOptions): void {
  const maxFrameBytes = maxPayloadBytes + RELAY_FRAME_OVERHEAD_BYTES;
  /** The frame's `dst` and object payload, or undefined for nobody's message (dropped; the rate already counted it). */
  const addressed = ({ dst, payload }: ClientFrame) =>
    typeof dst !== 'string' || dst === '' || typeof payload !== 'object' || payload === null || Array.isArray(payload) ? undefined : { dst, payload };
  const refuse = (dst: string, reason: RelayRefusal, reply: (message: object) => void) => {
    refused(reason);
    reply({ type: 'RELAY-REFUSED', dst, payload: { reason } });
  };
  switchboard.serve('RELAY', {
    kind: 'relay',
    async handle(src, frame, reply) {
      const target = addressed(frame);
      if (!target) return;
      const { dst, payload } = target;
      if (!enabled) return refuse(dst, 'off', reply);
      const message: RelayedMessage = { type: 'RELAY', src, dst, payload };
      if (Buffer.byteLength(JSON.stringify(message)) > maxFrameBytes) return refuse(dst, 'size', reply);
      if ((await switchboard.sendOrPark(message).catch(() => 'full' as const)) === 'full') refuse(dst, 'full', reply);
    },
    limited(_src, frame, reply) {
      const target = addressed(frame);
      if (target) refuse(target.dst, enabled ? 'rate' : 'off', reply);
    },
  });
}
