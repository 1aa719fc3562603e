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
import { TokenBucket } from '../../core/token-bucket.js';
import type { PeerViolation, TransportContext } from '../transport.js';
import { closeQuietly, unreachable, type Link } from './link.js';
import { beyondNewest, connectionExcess, pendingInboundExcess } from './link-bounds.js';

/**
 * A connection the peer answered (so it is online) but that is not open this
 * long after it was made cannot open: there is no path between the two browsers
 * (with no path, Firefox's ICE fails at ~11 s, Chromium's `connectionState` at
 * ~15 s). Capped by `connectTimeoutMs`.
 */
export const UNREACHABLE_AFTER_MS = 20_000;

export interface LinkHost {
  /** A link opened (after the per-peer bound was applied). */
  opened(link: Link): void;
  /** A link was torn down; `wasOpen` says whether it had opened. */
  closed(link: Link, wasOpen: boolean): void;
  /** A frame arrived on a link, within its allowance. */
  frame(from: string, frame: unknown): void;
  violation(violation: PeerViolation): void;
  /** A link with an online peer cannot open: no network path between us. */
  unreachable(peer: string, reason: string): void;
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
    const stuckAfter = Math.min(UNREACHABLE_AFTER_MS, connectTimeoutMs);
    link.teardown.add(
      timer(stuckAfter, this.#context.scheduler).subscribe(() => {
        if (!link.open && link.connection.peerConnection?.remoteDescription) this.#cannotOpen(link, `did not open within ${stuckAfter} ms of the answer`);
      }),
    );
    link.teardown.add(
      timer(connectTimeoutMs, this.#context.scheduler).subscribe(() => {
        if (link.open) return;
        if (link.connection.peerConnection?.remoteDescription) this.#cannotOpen(link, `did not open within ${connectTimeoutMs} ms`);
        else this.drop(link, unreachable(`The connection to "${link.peer}" did not open within ${connectTimeoutMs} ms`));
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
    const bucket = new TokenBucket({ perSecond: maxMessagesPerSecond, burst: 2 * maxMessagesPerSecond }, () => this.#now());
    const base = { peer: connection.peer, connection, inbound, serial: this.#serial++, open: false, openedAt: 0, dropped: false };
    return { ...base, bucket, opened, lastHeard: now, lastUsed: now, teardown: new Subscription(), settle };
  }

  /** Handlers go on synchronously: data can follow `open` in the same task. */
  #listen(link: Link): void {
    const { connection, peer } = link;
    connection.on('data', (frame) => this.#onData(link, frame));
    connection.on('open', () => this.#onOpen(link));
    connection.on('close', () => this.drop(link, unreachable(`The connection to "${peer}" closed`)));
    connection.on('error', (error) => {
      if (error.type === 'negotiation-failed' && !link.open) return this.#cannotOpen(link, 'failed to negotiate');
      this.drop(link, unreachable(`The connection to "${peer}" failed (${error.type})`, error));
    });
    connection.on('iceStateChanged', (state) => {
      if (state === 'failed' && !link.open) this.#cannotOpen(link, 'failed (ICE)');
      else if (state === 'failed' || state === 'closed') this.drop(link, unreachable(`The connection to "${peer}" ${state}`));
    });
    link.teardown.add(() => connection.removeAllListeners());
    // Chromium says `failed` here, not on the ICE state, when no path exists (BROWSER-TESTING.md item 28).
    const peerConnection = connection.peerConnection as RTCPeerConnection | undefined;
    const onState = () => {
      if (peerConnection?.connectionState === 'failed' && !link.open) this.#cannotOpen(link, 'failed (no path)');
    };
    peerConnection?.addEventListener('connectionstatechange', onState);
    link.teardown.add(() => peerConnection?.removeEventListener('connectionstatechange', onState));
  }

  /** A link that will not open although the peer is online: say so, then tear it down. */
  #cannotOpen(link: Link, what: string): void {
    if (link.dropped) return;
    const reason = `The connection to "${link.peer}" ${what}`;
    this.drop(link, unreachable(reason));
    this.#host.unreachable(link.peer, reason);
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

  #keepNewest(peer: string): void {
    for (const link of beyondNewest(this.of(peer))) this.drop(link, unreachable(`Newer connections with "${peer}" replaced this one`));
  }

  #limitPendingInbound(): void {
    for (const link of pendingInboundExcess(this.all(), this.#context.limits.maxPendingInboundConnections)) {
      this.drop(link, unreachable('Closed to stay under maxPendingInboundConnections'));
    }
  }

  #enforceConnectionLimit(keep: Link): void {
    for (const link of connectionExcess(this.all(), keep, this.#context.delivery.maxConnections)) this.drop(link, unreachable('Closed to stay under maxConnections'));
  }
}
