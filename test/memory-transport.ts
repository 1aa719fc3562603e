/**
 * An in-memory network of `Transport`s for unit tests: no PeerServer, no WebRTC.
 * It keeps what the plugin relies on from the real channel (frames copied
 * through JSON, delivered later and in order per pair, PeerJS's frame size
 * limit, `linkOpened$` on both ends when a connection opens, `linkClosed$` when
 * it closes, the violation policy) and lets a test
 * break it on purpose: peers offline, frames dropped or duplicated, frames
 * injected from any peer id, connect attempts counted.
 */
import { BehaviorSubject, Subject, timer, type Observable, type SchedulerLike } from 'rxjs';
import { InvitationError } from '../src/errors.js';
import { DEFAULT_LIMITS } from '../src/options.js';
import { ViolationPolicy } from '../src/transport/violation-policy.js';
import { isPing, type Message } from '../src/core/protocol.js';
import type { IncomingFrame, PeerViolation, Transport, TransportContext, TransportStats } from '../src/transport/transport.js';
import type { ConnectionState } from '../src/api/types.js';

/** PeerJS's JSON channel fails the connection on a frame of this many UTF-8 bytes or more. */
export const CHANNEL_FRAME_LIMIT = 16_300;

export interface MemoryNetworkOptions {
  /**
   * Transit time of a frame, on the sender's scheduler. Default 0: delivered in
   * a microtask, so that no clock has to move for a message to arrive.
   */
  latencyMs?: number;
}

export type FrameFault = 'drop' | 'duplicate';

/** One call to `send` that reached the network, as the receiver would see it. */
export interface SentFrame {
  from: string;
  to: string;
  /** The frame after its JSON round trip. */
  frame: unknown;
  /** The sender's clock when it was sent. */
  at: number;
  /** What a fault rule did to it, or `'too-big'` when the channel refused it. */
  fault?: FrameFault | 'too-big';
}

export interface ConnectAttempt {
  from: string;
  to: string;
  /** The caller's clock. */
  at: number;
}

export interface FaultRule {
  fault: FrameFault;
  /** Which frames; default every frame. */
  match?: (frame: SentFrame) => boolean;
  /** How many matching frames it applies to; default all of them. */
  times?: number;
}

export interface FaultHandle {
  /** Frames the rule applied to so far. */
  readonly hits: number;
  remove(): void;
}

/** A memory transport, with what only tests look at. */
export interface MemoryTransportHandle extends Transport {
  /** Every violation counted, the transport's own and those reported to it. */
  readonly violations$: Observable<PeerViolation>;
}

export interface MemoryNetwork {
  /** Pass as the plugin's `transport` option. */
  readonly transport: (context: TransportContext) => MemoryTransportHandle;
  /** Every frame sent, in order. */
  readonly sent: readonly SentFrame[];
  /** Every connection attempt that had to open a new connection, in order. */
  readonly attempts: readonly ConnectAttempt[];
  /**
   * Takes a peer off the network (its connections close, nobody can reach it,
   * its state becomes `reconnecting`) or brings it back (`connected`). An id
   * taken offline before it registers cannot register: `open()` rejects with
   * `SERVER_UNREACHABLE`.
   */
  setOnline(id: string, online: boolean): void;
  /** Registered and not taken offline. */
  isOnline(id: string): boolean;
  /** Closes the connection between two peers, if any, as a network fault would. */
  disconnect(a: string, b: string): void;
  /** Applies a fault to the frames `rule` matches until removed or used up. */
  fault(rule: FaultRule): FaultHandle;
  /** Delivers `frame` (structured-cloned, unchecked) to `to` as if it came on a connection from `from`; no connection needed. */
  inject(to: string, from: string, frame: unknown): void;
  /** Attempts counted so far, optionally only those from `from` and/or to `to`. */
  connectAttempts(filter?: { from?: string; to?: string }): number;
  /** The registered transport of an id. */
  transportOf(id: string): Transport | undefined;
}

/** The `kind` of a frame, when it has one. */
export function frameKind(frame: unknown): unknown {
  return typeof frame === 'object' && frame !== null ? (frame as Record<string, unknown>)['kind'] : undefined;
}

export function createMemoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new Network(options.latencyMs ?? 0);
}

/** An open connection between two transports. */
interface Link {
  readonly ends: readonly [MemoryTransport, MemoryTransport];
}

interface ActiveRule extends FaultRule {
  hits: number;
  removed: boolean;
}

class Network implements MemoryNetwork {
  readonly sent: SentFrame[] = [];
  readonly attempts: ConnectAttempt[] = [];
  readonly transport = (context: TransportContext): MemoryTransportHandle => new MemoryTransport(context, this);

  private readonly registry = new Map<string, MemoryTransport>();
  private readonly offline = new Set<string>();
  private readonly links = new Map<string, Link>();
  /** Connections being opened, by `from` then `to`: concurrent calls share one attempt. */
  private readonly pending = new Map<MemoryTransport, Map<string, Promise<void>>>();
  private readonly rules: ActiveRule[] = [];

  constructor(private readonly latencyMs: number) {}

  setOnline(id: string, online: boolean): void {
    const transport = this.registry.get(id);
    if (!online) {
      this.offline.add(id);
      if (transport) {
        this.closeLinksOf(transport);
        transport.state$.next('reconnecting');
      }
      return;
    }
    this.offline.delete(id);
    if (transport) transport.state$.next('connected');
  }

  isOnline(id: string): boolean {
    return this.registry.has(id) && !this.offline.has(id);
  }

  disconnect(a: string, b: string): void {
    this.closeLink(pairKey(a, b));
  }

  fault(rule: FaultRule): FaultHandle {
    const active: ActiveRule = { ...rule, hits: 0, removed: false };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => {
        active.removed = true;
      },
    };
  }

  inject(to: string, from: string, frame: unknown): void {
    const target = this.registry.get(to);
    if (!target) throw new Error(`inject: no transport registered as "${to}"`);
    // Symbols (the real transport's NOT_JSON marker for a broken frame) pass as they are.
    const copy = typeof frame === 'symbol' ? frame : structuredClone(frame);
    queueMicrotask(() => target.receive(from, copy));
  }

  connectAttempts(filter: { from?: string; to?: string } = {}): number {
    return this.attempts.filter((attempt) => (filter.from === undefined || attempt.from === filter.from) && (filter.to === undefined || attempt.to === filter.to)).length;
  }

  transportOf(id: string): Transport | undefined {
    return this.registry.get(id);
  }

  // ---- what the transports call ---------------------------------------

  register(transport: MemoryTransport): void {
    if (this.offline.has(transport.id)) throw new InvitationError('SERVER_UNREACHABLE', `"${transport.id}" is offline`);
    if (this.registry.has(transport.id)) throw new InvitationError('USER_ID_TAKEN', `The id "${transport.id}" is already registered`);
    this.registry.set(transport.id, transport);
  }

  unregister(transport: MemoryTransport): void {
    if (this.registry.get(transport.id) === transport) this.registry.delete(transport.id);
    this.closeLinksOf(transport);
    this.pending.delete(transport);
  }

  connect(from: MemoryTransport, to: string): Promise<void> {
    if (!this.isUp(from)) return Promise.reject(new InvitationError('NOT_CONNECTED', `"${from.id}" is not connected to the network`));
    if (this.linkBetween(from, to)) return Promise.resolve();
    let byTarget = this.pending.get(from);
    const pending = byTarget?.get(to);
    if (pending) return pending;
    from.connectAttempts++;
    this.attempts.push({ from: from.id, to, at: from.scheduler.now() });
    const attempt = Promise.resolve().then(() => {
      byTarget?.delete(to);
      if (!this.isUp(from)) throw new InvitationError('NOT_CONNECTED', `"${from.id}" left the network while connecting`);
      const target = this.registry.get(to);
      if (!target || !this.isUp(target) || target.isBanned(from.id)) throw new InvitationError('PEER_UNREACHABLE', `Peer "${to}" is not on the network`);
      // The other side may have opened one meanwhile; a pair shares one connection.
      if (this.linkBetween(from, to)) return;
      this.links.set(pairKey(from.id, to), { ends: [from, target] });
      from.linkOpened$.next(to);
      target.linkOpened$.next(from.id);
    });
    if (!byTarget) this.pending.set(from, (byTarget = new Map()));
    byTarget.set(to, attempt);
    return attempt;
  }

  send(from: MemoryTransport, to: string, message: Message): void {
    const link = this.linkBetween(from, to);
    if (!link) throw new InvitationError('PEER_UNREACHABLE', `No open connection from "${from.id}" to "${to}"`);
    const json = JSON.stringify(message);
    const record: SentFrame = { from: from.id, to, frame: JSON.parse(json), at: from.scheduler.now() };
    this.sent.push(record);
    if (new TextEncoder().encode(json).byteLength >= CHANNEL_FRAME_LIMIT) {
      // What PeerJS does: an error on the connection, which the transport closes; the frame is lost.
      record.fault = 'too-big';
      this.closeLink(pairKey(from.id, to));
      return;
    }
    const fault = this.faultFor(record);
    if (fault) record.fault = fault;
    const copies = fault === 'drop' ? 0 : fault === 'duplicate' ? 2 : 1;
    const target = link.ends[0] === from ? link.ends[1] : link.ends[0];
    for (let copy = 0; copy < copies; copy++) {
      const frame: unknown = JSON.parse(json);
      const arrive = () => {
        // A frame in flight is lost with its connection.
        if (this.links.get(pairKey(from.id, to)) === link) target.receive(from.id, frame);
      };
      if (this.latencyMs > 0) timer(this.latencyMs, from.scheduler).subscribe(arrive);
      else queueMicrotask(arrive);
    }
  }

  isLinked(from: MemoryTransport, to: string): boolean {
    return this.linkBetween(from, to) !== undefined;
  }

  openConnectionsOf(transport: MemoryTransport): number {
    let count = 0;
    for (const link of this.links.values()) if (link.ends.includes(transport)) count++;
    return count;
  }

  // ---- inside -----------------------------------------------------------

  private isUp(transport: MemoryTransport): boolean {
    return !transport.closed && this.registry.get(transport.id) === transport && !this.offline.has(transport.id);
  }

  private linkBetween(from: MemoryTransport, to: string): Link | undefined {
    const link = this.links.get(pairKey(from.id, to));
    return link?.ends.includes(from) ? link : undefined;
  }

  private closeLinksOf(transport: MemoryTransport): void {
    for (const [key, link] of this.links) if (link.ends.includes(transport)) this.closeLink(key);
  }

  private closeLink(key: string): void {
    const link = this.links.get(key);
    if (!link) return;
    this.links.delete(key);
    const [a, b] = link.ends;
    // As the PeerJS transport: nothing is said to a transport that is closing.
    if (!a.closed) a.linkClosed$.next(b.id);
    if (!b.closed) b.linkClosed$.next(a.id);
  }

  private faultFor(frame: SentFrame): FrameFault | undefined {
    for (const rule of this.rules) {
      if (rule.removed || (rule.times !== undefined && rule.hits >= rule.times)) continue;
      if (rule.match && !rule.match(frame)) continue;
      rule.hits++;
      return rule.fault;
    }
    return undefined;
  }
}

class MemoryTransport implements MemoryTransportHandle {
  readonly state$ = new BehaviorSubject<ConnectionState>('disconnected');
  readonly frames$ = new Subject<IncomingFrame>();
  readonly linkOpened$ = new Subject<string>();
  readonly linkClosed$ = new Subject<string>();
  readonly errors$ = new Subject<InvitationError>();
  readonly id: string;
  readonly scheduler: SchedulerLike;
  connectAttempts = 0;
  closed = false;
  private readonly policy: ViolationPolicy;

  constructor(
    context: TransportContext,
    private readonly network: Network,
  ) {
    this.id = context.id;
    this.scheduler = context.scheduler;
    this.policy = new ViolationPolicy(context.limits ?? DEFAULT_LIMITS, () => this.scheduler.now(), {
      cutOff: (peer) => this.network.disconnect(this.id, peer),
      report: (error) => this.errors$.next(error),
    });
  }

  get violations$(): Observable<PeerViolation> {
    return this.policy.violations$;
  }

  async open(): Promise<void> {
    if (this.closed) throw new InvitationError('DISPOSED', 'The transport was closed');
    this.state$.next('connecting');
    // Registration is a round trip to a server: never synchronous.
    await Promise.resolve();
    if (this.closed) throw new InvitationError('DISPOSED', 'The transport was closed while opening');
    try {
      this.network.register(this);
    } catch (error) {
      this.close();
      throw error;
    }
    this.state$.next('connected');
  }

  connect(to: string): Promise<void> {
    if (this.policy.isBanned(to)) return Promise.reject(new InvitationError('PEER_UNREACHABLE', `"${to}" is cut off for breaking the protocol`));
    return this.network.connect(this, to);
  }

  isOpen(to: string): boolean {
    return this.network.isLinked(this, to);
  }

  send(to: string, message: Message): void {
    this.network.send(this, to, message);
  }

  /** Called by the network when a frame arrives. */
  receive(from: string, frame: unknown): void {
    if (this.closed || isPing(frame) || this.policy.isBanned(from)) return;
    this.frames$.next({ from, frame });
  }

  /** The same policy as the PeerJS transport (violation-policy.ts). */
  reportViolation(violation: PeerViolation): void {
    this.policy.count(violation);
  }

  isBanned(peer: string): boolean {
    return this.policy.isBanned(peer);
  }

  stats(): TransportStats {
    return { connectAttempts: this.connectAttempts, openConnections: this.network.openConnectionsOf(this), openingConnections: 0, refusedOffers: 0, bannedPeers: this.policy.bannedCount() };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.policy.close();
    this.network.unregister(this);
    this.state$.next('disconnected');
    this.state$.complete();
    this.frames$.complete();
    this.linkOpened$.complete();
    this.linkClosed$.complete();
    this.errors$.complete();
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}
