/**
 * The DataConnections, ours and the remote's: each tracked from its first event
 * to its one teardown, kept alive by a heartbeat, and kept within bounds (open
 * ones per peer, all of them, inbound ones still opening). PeerJS 1.5 reports
 * some failures only on the Peer and lets some connections end without `close`:
 * every link has its own open deadline, and the heartbeat closes silent ones.
 */
import type { DataConnection } from 'peerjs';
import { Subscription, timer } from 'rxjs';
import { InvitationError } from '../../errors.js';
import { PING, isPing, type Message } from '../../core/protocol.js';
import { TokenBucket } from '../peer-guard.js';
import type { PeerViolation, TransportContext } from '../transport.js';

/**
 * Open connections kept per peer. Two, not one: when both sides connect at once,
 * or a reloaded page connects while its old channel still looks open, each end
 * would have to guess which one the other keeps, and a wrong guess closes both.
 * With two, nothing is guessed: we write on every open one (newest first), read
 * from both, and the heartbeat closes a stale one; a third closes the oldest.
 */
const OPEN_LINKS_PER_PEER = 2;

/** One DataConnection and what we know of it. */
export interface Link {
  readonly peer: string;
  readonly connection: DataConnection;
  /** Opened by the remote peer. */
  readonly inbound: boolean;
  /** Creation order, across all links. */
  readonly serial: number;
  open: boolean;
  /** When it opened (clock ms); the newest open link is the one to write on first. */
  openedAt: number;
  dropped: boolean;
  /** The remote's message allowance. */
  readonly bucket: TokenBucket;
  /** Settles when the connection opens or fails. */
  readonly opened: Promise<void>;
  /** Last frame of any kind, pings included: is the other end alive? */
  lastHeard: number;
  /** Last real message either way: is the link still worth keeping? */
  lastUsed: number;
  /** Timers and listeners, released once in `drop`. */
  readonly teardown: Subscription;
  settle(error?: InvitationError): void;
}

export interface LinkHost {
  /** A link opened (after the per-peer bound was applied). */
  opened(link: Link): void;
  /** A link was torn down; `wasOpen` says whether it had opened. */
  closed(link: Link, wasOpen: boolean): void;
  /** A frame arrived on a link, within its allowance. */
  frame(from: string, frame: unknown): void;
  violation(violation: PeerViolation): void;
}

export class Links {
  readonly #byPeer = new Map<string, Set<Link>>();
  readonly #context: TransportContext;
  readonly #host: LinkHost;
  #serial = 0;

  constructor(context: TransportContext, host: LinkHost) {
    this.#context = context;
    this.#host = host;
  }

  has(peer: string): boolean {
    return this.#byPeer.has(peer);
  }

  of(peer: string): Link[] {
    return [...(this.#byPeer.get(peer) ?? [])];
  }

  all(): Link[] {
    return [...this.#byPeer.values()].flatMap((set) => [...set]);
  }

  /** The newest open link: an older one may be a stale channel to a page that reloaded. */
  openLink(to: string): Link | undefined {
    let newest: Link | undefined;
    for (const link of this.#byPeer.get(to) ?? []) if (link.open && (!newest || link.openedAt >= newest.openedAt)) newest = link;
    return newest;
  }

  /** One still opening, if any. */
  openingLink(to: string): Link | undefined {
    for (const link of this.#byPeer.get(to) ?? []) if (!link.open) return link;
    return undefined;
  }

  /**
   * Writes on every open link with `to`, the newest first: while two are open (a peer
   * that came back, or both sides connecting at once) either may be the one that dies,
   * and the receiver drops the repeat. False when none is open.
   */
  send(to: string, message: Message): boolean {
    const newest = this.openLink(to);
    if (!newest) return false;
    const now = this.#now();
    for (const link of [newest, ...this.of(to).filter((other) => other.open && other !== newest)]) {
      link.lastUsed = now;
      link.connection.send(message);
    }
    return true;
  }

  /** Tracks a connection we opened. */
  adoptOutbound(connection: DataConnection): Link {
    const link = this.#adopt(connection, false);
    this.#enforceConnectionLimit(link);
    return link;
  }

  /** Tracks a remote's connection: it replaces that peer's older ones still opening (a reload, or abuse). */
  adoptInbound(connection: DataConnection): void {
    for (const link of this.of(connection.peer)) {
      if (link.inbound && !link.open) this.drop(link, unreachable(`"${connection.peer}" offered a newer connection`));
    }
    const link = this.#adopt(connection, true);
    this.#limitPendingInbound();
    if (!link.dropped) this.#enforceConnectionLimit(link);
  }

  /** The one teardown of a link, whatever ended it. */
  drop(link: Link, reason: InvitationError): void {
    if (link.dropped) return;
    const wasOpen = link.openedAt > 0;
    link.dropped = true;
    link.open = false;
    const set = this.#byPeer.get(link.peer);
    set?.delete(link);
    if (set?.size === 0) this.#byPeer.delete(link.peer);
    link.teardown.unsubscribe();
    link.settle(reason);
    closeQuietly(link.connection);
    this.#host.closed(link, wasOpen);
  }

  dropAll(peer: string, reason: InvitationError): void {
    for (const link of this.of(peer)) this.drop(link, reason);
  }

  /** Pings every open link, and closes the silent (dead) and the idle ones. */
  beat(): void {
    const now = this.#now();
    const { heartbeatIntervalMs, idleTimeoutMs } = this.#context.delivery;
    for (const link of this.all()) {
      if (!link.open) continue;
      if (now - link.lastHeard > 3 * heartbeatIntervalMs) this.drop(link, unreachable(`"${link.peer}" stopped answering`));
      else if (now - link.lastUsed > idleTimeoutMs) this.drop(link, unreachable(`The connection to "${link.peer}" was idle`));
      else link.connection.send(PING);
    }
  }

  #now(): number {
    return this.#context.clock.now();
  }

  #adopt(connection: DataConnection, inbound: boolean): Link {
    const link = this.#newLink(connection, inbound);
    let set = this.#byPeer.get(link.peer);
    if (!set) this.#byPeer.set(link.peer, (set = new Set()));
    set.add(link);
    this.#listen(link);
    const { connectTimeoutMs } = this.#context.delivery;
    link.teardown.add(
      timer(connectTimeoutMs, this.#context.scheduler).subscribe(() => {
        if (!link.open) this.drop(link, unreachable(`The connection to "${link.peer}" did not open within ${connectTimeoutMs} ms`));
      }),
    );
    return link;
  }

  #newLink(connection: DataConnection, inbound: boolean): Link {
    let settle!: (error?: InvitationError) => void;
    const opened = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be waiting (an inbound link); the failure is reported through `send`.
    opened.catch(() => {});
    const now = this.#now();
    const { maxMessagesPerSecond } = this.#context.limits;
    const bucket = new TokenBucket(maxMessagesPerSecond, 2 * maxMessagesPerSecond, () => this.#now());
    const base = { peer: connection.peer, connection, inbound, serial: this.#serial++, open: false, openedAt: 0, dropped: false };
    return { ...base, bucket, opened, lastHeard: now, lastUsed: now, teardown: new Subscription(), settle };
  }

  /** Handlers go on synchronously: data can follow `open` in the same task. */
  #listen(link: Link): void {
    const { connection, peer } = link;
    connection.on('data', (frame) => this.#onData(link, frame));
    connection.on('open', () => this.#onOpen(link));
    connection.on('close', () => this.drop(link, unreachable(`The connection to "${peer}" closed`)));
    connection.on('error', (error) => this.drop(link, unreachable(`The connection to "${peer}" failed (${error.type})`, error)));
    connection.on('iceStateChanged', (state) => {
      if (state === 'failed' || state === 'closed') this.drop(link, unreachable(`The connection to "${peer}" ${state}`));
    });
    link.teardown.add(() => connection.removeAllListeners());
  }

  #onData(link: Link, frame: unknown): void {
    if (link.dropped) return;
    if (!link.bucket.take()) {
      const { maxMessagesPerSecond } = this.#context.limits;
      return this.#host.violation({ peer: link.peer, reason: `sent more than ${maxMessagesPerSecond} messages per second; the excess was dropped` });
    }
    link.lastHeard = this.#now();
    if (isPing(frame)) return;
    link.lastUsed = link.lastHeard;
    this.#host.frame(link.peer, frame);
  }

  #onOpen(link: Link): void {
    if (link.dropped) return;
    // The offer's `reliable` is the remote's word; the channel itself says what it is.
    const channel = link.connection.dataChannel as RTCDataChannel | undefined;
    if (channel && (!channel.ordered || channel.maxRetransmits !== null || channel.maxPacketLifeTime !== null)) {
      this.drop(link, unreachable(`"${link.peer}" opened an unreliable channel`));
      return this.#host.violation({ peer: link.peer, reason: 'opened an unordered or lossy data channel; only reliable JSON connections are spoken here' });
    }
    link.open = true;
    link.openedAt = link.lastHeard = link.lastUsed = this.#now();
    link.settle();
    this.#host.opened(link);
    this.#keepNewest(link.peer);
  }

  /** At most OPEN_LINKS_PER_PEER open connections with a peer: the newest stay. */
  #keepNewest(peer: string): void {
    const open = this.of(peer).filter((link) => link.open).sort((a, b) => b.openedAt - a.openedAt || b.serial - a.serial);
    for (const link of open.slice(OPEN_LINKS_PER_PEER)) this.drop(link, unreachable(`Newer connections with "${peer}" replaced this one`));
  }

  /**
   * Closes the oldest inbound connections still opening beyond `maxPendingInboundConnections`.
   * Oldest, not newest: offers that will never open would otherwise hold every place until
   * `connectTimeoutMs`, and an honest peer's offer made during a flood could never get in.
   */
  #limitPendingInbound(): void {
    const pending = this.all().filter((link) => link.inbound && !link.open).sort((a, b) => a.serial - b.serial);
    const excess = pending.length - this.#context.limits.maxPendingInboundConnections;
    for (const link of pending.slice(0, Math.max(0, excess))) this.drop(link, unreachable('Closed to stay under maxPendingInboundConnections'));
  }

  /**
   * At most `maxConnections` links, opening ones included. To make room, inbound
   * links still opening go first (oldest first), then idle open ones (least
   * recently used first), then our own still opening.
   */
  #enforceConnectionLimit(keep: Link): void {
    const others = this.all().filter((link) => link !== keep);
    const excess = others.length + 1 - this.#context.delivery.maxConnections;
    if (excess <= 0) return;
    const bySerial = (a: Link, b: Link) => a.serial - b.serial;
    const order = [
      ...others.filter((link) => link.inbound && !link.open).sort(bySerial),
      ...others.filter((link) => link.open).sort((a, b) => a.lastUsed - b.lastUsed),
      ...others.filter((link) => !link.inbound && !link.open).sort(bySerial),
    ];
    for (const link of order.slice(0, excess)) this.drop(link, unreachable('Closed to stay under maxConnections'));
  }
}

export function unreachable(message: string, cause?: unknown): InvitationError {
  return new InvitationError('PEER_UNREACHABLE', message, cause === undefined ? undefined : { cause });
}

export function closeQuietly(connection: DataConnection): void {
  try {
    connection.close();
  } catch {
    // Closing a connection that never opened can throw inside PeerJS; it is gone either way.
  }
}
