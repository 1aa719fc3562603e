/**
 * The PeerJS transport: the only part that imports peerjs. It puts together
 * registration with the PeerServer (registration.ts), the DataConnections and
 * their heartbeat (links.ts), the turns our own connections take (dial-queue.ts),
 * what offers get in (offer-gate.ts), messages that come beside a data channel
 * (signal-frames.ts: on offers, relayed), what the companion server offers
 * (server-channel.ts: SERVER-INFO, the relay, TURN), the shared violation
 * policy, and two patches on PeerJS (patches.ts). It is the first line against hostile peers:
 * reliable JSON data connections only, at most two open connections per peer, a
 * bounded number of inbound ones still opening, a message rate per connection,
 * and peers that keep breaking rules cut off.
 */
import type { DataConnection, PeerError } from 'peerjs';
import { Subject, Subscription, filter, take, timer } from 'rxjs';
import { InvitationError } from '../../errors.js';
import type { Message } from '../../core/protocol.js';
import { ViolationPolicy } from '../violation-policy.js';
import { DialQueue } from './dial-queue.js';
import { unreachable, type Link } from './link.js';
import { Links } from './links.js';
import { OfferGate } from './offer-gate.js';
import type { BoundedPeer } from './patches.js';
import { Registration } from './registration.js';
import { ServerChannel } from './server-channel.js';
import type { PushServerLink } from '../../push/enable-push.js';
import { SignalFrames, ringMetadata } from './signal-frames.js';
import type { IncomingFrame, PeerUnreachable, PeerViolation, Transport, TransportContext, TransportFactory, TransportStats } from '../transport.js';
import type { ConnectionState } from '../../api/types.js';
import type { Observable } from 'rxjs';

export { MAX_OUTBOUND_OPENING } from './dial-queue.js';
export { BoundedPeer, MAX_PARKED_SIGNALS } from './patches.js';

export interface PeerJsTransportOptions {
  /** Send and take messages through the companion server's relay when it offers one; default true. */
  relay?: boolean;
}

export function peerJsTransport(options: PeerJsTransportOptions = {}): TransportFactory {
  return (context) => new PeerJsTransport(context, options.relay ?? true);
}

export const createPeerJsTransport: TransportFactory = peerJsTransport();

class PeerJsTransport implements Transport {
  readonly frames$ = new Subject<IncomingFrame>();
  readonly linkOpened$ = new Subject<string>();
  readonly linkClosed$ = new Subject<string>();
  readonly errors$ = new Subject<InvitationError>();
  readonly unreachable$ = new Subject<PeerUnreachable>();
  readonly offersCarryRing = true;

  readonly #context: TransportContext;
  readonly #registration: Registration;
  readonly #policy: ViolationPolicy;
  readonly #links: Links;
  readonly #dials: DialQueue;
  readonly #gate: OfferGate;
  readonly #signals: SignalFrames;
  readonly #server: ServerChannel;
  readonly #lifetime = new Subscription();
  #closed = false;
  #connectAttempts = 0;

  constructor(context: TransportContext, relay: boolean) {
    this.#context = context;
    const now = () => context.clock.now();
    this.#policy = new ViolationPolicy(context.limits, now, {
      cutOff: (peer) => this.#links.dropAll(peer, unreachable(`"${peer}" is cut off for breaking the protocol`)),
      report: (error) => this.errors$.next(error),
    });
    this.#links = new Links(context, {
      opened: (link) => this.#onLinkOpened(link),
      closed: (link, wasOpen) => this.#onLinkClosed(link, wasOpen),
      frame: (from, frame) => this.frames$.next({ from, frame }),
      violation: (violation) => this.#policy.count(violation),
      unreachable: (peer, reason) => this.unreachable$.next({ peer, reason }),
    });
    this.#signals = new SignalFrames(context, { frame: (from, frame) => this.frames$.next({ from, frame }), violation: (violation) => this.#policy.count(violation) });
    this.#server = new ServerChannel(relay, { relayed: (from, payload) => !this.#policy.isBanned(from) && this.#signals.fromRelay(from, payload) });
    this.#dials = new DialQueue(this.#links, (to, ring) => this.#dial(to, ring));
    this.#gate = new OfferGate(this.#policy, now);
    this.#registration = new Registration(context, { adopt: (peer) => this.#adoptPeer(peer), report: (error) => this.errors$.next(error) });
  }

  get state$(): Observable<ConnectionState> {
    return this.#registration.state$;
  }

  async open(): Promise<void> {
    try {
      await this.#registration.open();
    } catch (error) {
      this.close();
      throw error;
    }
    const { heartbeatIntervalMs } = this.#context.delivery;
    this.#lifetime.add(timer(heartbeatIntervalMs, heartbeatIntervalMs, this.#context.scheduler).subscribe(() => this.#links.beat()));
  }

  async connect(to: string, ring: readonly Message[] = []): Promise<void> {
    const link = await this.#dials.inTurn(to, ring);
    if (link.open) return;
    // The peer may connect to us while our offer is still parked at the server: take whichever opens first.
    await new Promise<void>((resolve, reject) => {
      const inbound = this.linkOpened$.pipe(filter((peer) => peer === to), take(1)).subscribe(() => resolve());
      link.opened.then(resolve, reject).finally(() => inbound.unsubscribe());
    });
  }

  isOpen(to: string): boolean {
    return this.#links.openLink(to) !== undefined;
  }

  /** The companion server's Web Push requests (PUSH-SUBSCRIBE/UNSUBSCRIBE), over the registered socket. */
  get push(): PushServerLink {
    return this.#server.push;
  }

  canRelay(): boolean {
    return this.#registration.connected && this.#server.relays;
  }

  /** The open data channels whenever there is one; the relay only when there is none. */
  send(to: string, message: Message): void {
    if (this.#links.send(to, message)) return;
    if (this.#registration.connected && !this.#policy.isBanned(to) && this.#server.relay(to, message)) return;
    throw unreachable(`No open connection with "${to}"`);
  }

  reportViolation(violation: PeerViolation): void {
    this.#policy.count(violation);
  }

  isBanned(peer: string): boolean {
    return this.#policy.isBanned(peer);
  }

  stats(): TransportStats {
    const links = this.#links.all();
    const openConnections = links.filter((link) => link.open).length;
    return {
      connectAttempts: this.#connectAttempts,
      openConnections,
      openingConnections: links.length - openConnections,
      refusedOffers: this.#gate.refused,
      bannedPeers: this.#policy.bannedCount(),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.unsubscribe();
    this.#policy.close();
    for (const link of this.#links.all()) this.#links.drop(link, new InvitationError('DISPOSED', 'The transport closed'));
    this.#dials.rejectAll(new InvitationError('DISPOSED', 'The transport closed'));
    this.#registration.close();
    this.#server.close();
    this.frames$.complete();
    this.linkOpened$.complete();
    this.linkClosed$.complete();
    this.errors$.complete();
    this.unreachable$.complete();
  }

  /**
   * An open link if there is one, else one of ours being opened, else the peer's own still
   * opening when we have nothing to carry, else a new one. Something to carry gets our own
   * offer even beside the peer's: with no path that one never opens, and without a relay
   * (a plain PeerServer) our offer is the only way an answer reaches the inviter before ICE gives up.
   */
  #dial(to: string, ring: readonly unknown[]): Link {
    const existing = this.#links.openLink(to) ?? this.#links.of(to).find((link) => !link.open && !link.inbound) ?? (ring.length === 0 ? this.#links.openingLink(to) : undefined);
    if (existing) return existing;
    const peer = this.#registration.peer;
    // Connecting before the Peer is open can lose the offer; the caller retries once we are back.
    if (!this.#registration.connected || !peer) throw new InvitationError('NOT_CONNECTED', 'Not connected to the PeerServer');
    if (this.#policy.isBanned(to)) throw unreachable(`"${to}" is cut off for breaking the protocol`);
    this.#connectAttempts++;
    const metadata = ringMetadata(ring);
    return this.#links.adoptOutbound(peer.connect(to, { reliable: true, serialization: 'json', ...(metadata && { metadata }) }));
  }

  /** Listens to a new Peer before it registers. */
  #adoptPeer(peer: BoundedPeer): void {
    this.#server.attach(peer);
    peer.on('open', () => this.#signals.registered());
    peer.admitOffer = (from) => this.#gate.admit(from);
    peer.on('connection', (connection) => this.#onInbound(connection));
    peer.on('call', (call) => {
      call.close();
      this.#policy.count({ peer: call.peer, reason: 'offered a media call; only data connections are spoken here' });
    });
    peer.on('error', (error) => this.#onPeerError(peer, error));
  }

  /** A connection offered to us: kept if it is the kind we speak; what its offer carries is read either way but from a banned peer. */
  #onInbound(connection: DataConnection): void {
    if (!this.#gate.accepts(connection)) return;
    this.#links.adoptInbound(connection);
    this.#signals.fromOffer(connection.peer, connection.metadata);
  }

  #onPeerError(peer: BoundedPeer, error: PeerError<string>): void {
    if (peer !== this.#registration.peer || error.type !== 'peer-unavailable') return;
    // PeerJS reports an offline peer here, never on the DataConnection; its message is the only place the id appears.
    const offline = /Could not connect to peer (.+)$/.exec(error.message)?.[1];
    if (offline === undefined) return;
    this.#dials.offline(offline);
    for (const link of this.#links.of(offline)) {
      if (!link.open) this.#links.drop(link, unreachable(`Peer "${offline}" is not connected to the PeerServer`, error));
    }
  }

  #onLinkOpened(link: Link): void {
    this.#dials.reached(link.peer);
    if (!link.inbound) this.#dials.next();
    this.linkOpened$.next(link.peer);
  }

  #onLinkClosed(link: Link, wasOpen: boolean): void {
    if (this.#closed) return;
    if (!link.inbound) this.#dials.next();
    if (wasOpen) this.linkClosed$.next(link.peer);
  }
}
