/**
 * How many links may be kept, and which go first beyond that: pure choices
 * over the links (links.ts), which drops what these return.
 */
import type { Link } from './link.js';

/**
 * Open connections kept per peer. Two, not one: when both sides connect at once,
 * or a reloaded page connects while its old channel still looks open, each end
 * would have to guess which one the other keeps, and a wrong guess closes both.
 * With two, nothing is guessed: we write on every open one (newest first), read
 * from both, and the heartbeat closes a stale one; a third closes the oldest.
 */
export const OPEN_LINKS_PER_PEER = 2;

/** A peer's open links beyond OPEN_LINKS_PER_PEER, the oldest: the newest stay. */
export function beyondNewest(links: Link[]): Link[] {
  const open = links.filter((link) => link.open).sort((a, b) => b.openedAt - a.openedAt || b.serial - a.serial);
  return open.slice(OPEN_LINKS_PER_PEER);
}

/**
 * Inbound links still opening beyond `max`, the oldest. Oldest, not newest: offers
 * that will never open would otherwise hold every place until `connectTimeoutMs`,
 * and an honest peer's offer made during a flood could never get in.
 */
export function pendingInboundExcess(links: Link[], max: number): Link[] {
  const pending = links.filter((link) => link.inbound && !link.open).sort((a, b) => a.serial - b.serial);
  return pending.slice(0, Math.max(0, pending.length - max));
}

/**
 * What to close so that at most `max` links remain, `keep` among them, opening ones
 * included: inbound links still opening first (oldest first), then idle open ones
 * (least recently used first), then our own still opening.
 */
export function connectionExcess(links: Link[], keep: Link, max: number): Link[] {
  const others = links.filter((link) => link !== keep);
  const excess = others.length + 1 - max;
  if (excess <= 0) return [];
  const bySerial = (a: Link, b: Link) => a.serial - b.serial;
  const order = [
    ...others.filter((link) => link.inbound && !link.open).sort(bySerial),
    ...others.filter((link) => link.open).sort((a, b) => a.lastUsed - b.lastUsed),
    ...others.filter((link) => !link.inbound && !link.open).sort(bySerial),
  ];
  return order.slice(0, excess);
}
