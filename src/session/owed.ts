/** What Delivery (delivery.ts) asks of a session: what is owed to a peer, and that an invite went out. */
import type { Clock } from '../core/clock.js';
import { transition } from '../core/state-machine.js';
import { composeOwed } from './app-calls.js';
import type { DeliveryHost, OwedMessage } from './delivery.js';
import type { LegTable } from './legs.js';
import type { Calls } from './calls/calls.js';

export function owedMessages(legs: LegTable, clock: Clock, calls: () => Calls): DeliveryHost {
  return {
    owed(peer) {
      const now = clock.now();
      const owed: OwedMessage[] = [];
      for (const leg of legs.owedTo(peer)) {
        if (!leg.outbox || leg.deadline <= now) continue;
        const kind = leg.outbox;
        owed.push({ kind, invitationID: leg.invitationID, compose: () => composeOwed(leg, kind, Math.max(1, leg.deadline - clock.now())) });
      }
      owed.push(...calls().owed(peer));
      return owed;
    },
    wired(peer, message) {
      if (message.kind !== 'invite') return;
      const leg = legs.get(message.invitationID, peer);
      const result = leg && transition(leg, { type: 'wired' }, clock.now());
      // Kept in memory only, to spare a disk write per send: the ack's write saves it, and a leg
      // restored while still queued is taken as wired (see restore.ts).
      if (result?.ok && result.changed) legs.set(result.leg);
    },
  };
}
