/**
 * The PeerJS transport: the only module that imports peerjs. It owns the Peer
 * (registration, reconnection) and the DataConnections (opening, keep-alive,
 * closing), and works around PeerJS 1.5's known gaps: failures reported on the
 * Peer instead of the connection, connections that never emit `close`, and
 * `reconnect()` calls that never finish. It is also the first line against
 * hostile peers: it keeps to reliable JSON data connections, one open
 * connection per peer, a bounded number of inbound ones still opening, a
 * message rate per connection, and cuts off peers that keep breaking rules.
 */
import { BufferedConnection, DataConnectionErrorType, Peer, util, type DataConnection, type PeerError } from 'peerjs';
import { BehaviorSubject, Subject, Subscription, filter, firstValueFrom, take, timer } from 'rxjs';
import { backoffDelay } from '../../core/backoff.js';
import { InvitationError } from '../../errors.js';
import { PeerGuard, TokenBucket } from '../peer-guard.js';
import { NOT_JSON, PING, isPing, type Message } from '../../core/protocol.js';
import type { IncomingFrame, PeerViolation, Transport, TransportContext, TransportFactory, TransportStats } from '../transport.js';
import type { ConnectionState, ResolvedLimitOptions } from '../../api/types.js';

export const createPeerJsTransport: TransportFactory = (context) => new PeerJsTransport(context);

/**
 * PeerJS's own JSON connection throws inside its message handler when a peer
 * sends `null` or text that is not JSON. This one hands every frame on (broken
 * ones as NOT_JSON) for the protocol decoder to judge.
 */
class TolerantJsonConnection extends BufferedConnection {
  readonly serialization = 'json';
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  protected override _handleDataMessage({ data }: MessageEvent): void {
    let frame: unknown;
    try {
      frame = JSON.parse(this.#decoder.decode(data));
    } catch {
      frame = NOT_JSON;
    }
    // PeerJS's close handshake travels in-band.
    if (typeof frame === 'object' && frame !== null && (frame as { __peerData?: { type?: unknown } }).__peerData?.type === 'close') {
      this.close();
      return;
    }
    this.emit('data', frame);
  }

  protected override _send(data: unknown): void {
    const encoded = this.#encoder.encode(JSON.stringify(data));
    if (encoded.byteLength >= util.chunkedMTU) {
      this.emitError(DataConnectionErrorType.MessageToBig, 'Message too big for JSON channel');
      return;
    }
    this._bufferedSend(encoded.buffer);
  }
}

/**
 * Open connections kept per peer. Two, not one: when both sides connect at once,
 * or a reloaded page connects while its old channel still looks open, each end
 * would have to guess which one the other keeps, and a wrong guess closes both.
 * With two, nothing is guessed: we write on the newest, read from both, and the
 * heartbeat closes a stale one; a third closes the oldest.
 */
const OPEN_LINKS_PER_PEER = 2;

/**
 * Our own connections opening at once; more wait their turn, first come first
 * served except that peers the server last called offline go after the others.
 * A reconnect that greets every peer, or retries to many unreachable ones, then
 * cannot exhaust the browser's RTCPeerConnections, and retries to offline peers
 * (each holds its place for the server's `expire_timeout`) do not hold up a peer
 * that is online.
 */
export const MAX_OUTBOUND_OPENING = 8;

/** A `connect` waiting for its turn. */
interface QueuedConnect {
  readonly link: Promise<Link>;
  resolve(link: Link): void;
  reject(error: unknown): void;
}

/** Signaling messages PeerJS keeps for connections it does not know: per connection, and connections. */
export const MAX_PARKED_SIGNALS = 32;

/** Connection offers one peer may make per second, sustained, and at once. */
const OFFERS_PER_PEER_PER_SECOND = 2;
const OFFER_BURST_PER_PEER = 5;
/** Per-peer memories (offer allowances, offline marks) are kept for at most this many peers. */
const MAX_REMEMBERED_PEERS = 256;

interface ServerMessage {
  type?: unknown;
  src?: unknown;
}

/**
 * A Peer that gives a hostile peer on the same server less to play with.
 *
 * PeerJS builds an RTCPeerConnection for every offer it is sent, before the app
 * hears of it, and Chromium counts even closed ones against its per-page cap
 * until they are garbage-collected: `admitOffer` is asked first, and an offer it
 * refuses is dropped unseen.
 *
 * PeerJS also keeps every signaling message for a connection it does not know
 * (yet), for the Peer's whole life: any peer on the server could grow that
 * without bound with made-up connection ids, and the late ICE candidates of
 * every connection we close land there too. This Peer keeps at most
 * MAX_PARKED_SIGNALS connections' worth, the newest, of MAX_PARKED_SIGNALS each.
 */
export class BoundedPeer extends Peer {
  /** Whether to take an offer from `peer`; false drops it before PeerJS builds anything. */
  admitOffer: (peer: string) => boolean = () => true;

  _handleMessage(message: ServerMessage): void {
    if (message?.type === 'OFFER' && typeof message.src === 'string' && !this.admitOffer(message.src)) return;
    (Peer.prototype as unknown as { _handleMessage(message: ServerMessage): void })._handleMessage.call(this, message);
  }

  _storeMessage(connectionId: string, message: unknown): void {
    const parked = (this as unknown as { _lostMessages: Map<string, unknown[]> })._lostMessages;
    const messages = parked.get(connectionId);
    if (messages) {
      if (messages.length < MAX_PARKED_SIGNALS) messages.push(message);
      return;
    }
    if (parked.size >= MAX_PARKED_SIGNALS) parked.delete(parked.keys().next().value as string);
    parked.set(connectionId, [message]);
  }
}

/** One DataConnection and what we know of it. */
interface Link {
  readonly peer: string;
  readonly connection: DataConnection;
  /** Opened by the remote peer. */
  readonly inbound: boolean;
  /** Creation order, across all links. */
  readonly serial: number;
  open: boolean;
  /** When it opened (clock ms); the newest open link is the one to write on. */
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

const SERVER_FAILURES = new Set(['network', 'server-error', 'socket-error', 'socket-closed', 'ssl-unavailable', 'browser-incompatible']);

class PeerJsTransport implements Transport {
  readonly state$ = new BehaviorSubject<ConnectionState>('disconnected');
  readonly frames$ = new Subject<IncomingFrame>();
  readonly peerOnline$ = new Subject<string>();
  readonly errors$ = new Subject<InvitationError>();
  readonly violations$ = new Subject<PeerViolation>();

  #peer: Peer | undefined;
  readonly #links = new Map<string, Set<Link>>();
  /** Peers waiting for an outbound place, in arrival order. */
  readonly #connectQueue = new Map<string, QueuedConnect>();
  /** Peers the server said were offline, until a connection with them opens. */
  readonly #offline = new Set<string>();
  readonly #lifetime = new Subscription();
  #closed = false;
  #reconnecting = false;
  #connectAttempts = 0;
  #linkSerial = 0;

  readonly #context: TransportContext;
  readonly #limits: ResolvedLimitOptions;
  readonly #guard: PeerGuard;
  readonly #offersByPeer = new Map<string, TokenBucket>();
  #refusedOffers = 0;

  constructor(context: TransportContext) {
    this.#context = context;
    this.#limits = context.limits;
    this.#guard = new PeerGuard(this.#limits, () => this.#now());
  }

  #now(): number {
    return this.#context.clock.now();
  }

  async open(): Promise<void> {
    this.state$.next('connecting');
    try {
      await this.#claimId();
    } catch (error) {
      this.close();
      throw error;
    }
    this.state$.next('connected');
    this.#lifetime.add(
      timer(this.#context.delivery.heartbeatIntervalMs, this.#context.delivery.heartbeatIntervalMs, this.#context.scheduler).subscribe(() => this.#beat()),
    );
  }

  /** Registers, retrying with backoff for `idTakenRetryMs` while the server still holds our id. */
  async #claimId(): Promise<void> {
    const { idTakenRetryMs, retryInitialDelayMs, retryMaxDelayMs } = this.#context.delivery;
    const giveUpAt = this.#now() + idTakenRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#register();
      } catch (error) {
        const delay = backoffDelay(attempt, retryInitialDelayMs, retryMaxDelayMs);
        const taken = error instanceof InvitationError && error.code === 'USER_ID_TAKEN';
        if (!taken || this.#closed || this.#now() + delay > giveUpAt) throw error;
        await firstValueFrom(timer(delay, this.#context.scheduler));
      }
    }
  }

  /**
   * Creates a Peer with our id (and a fresh token, if the app gives tokens) and waits
   * for the server to accept it; never once closed.
   */
  async #register(): Promise<void> {
    const token = await this.#freshToken();
    this.#peer?.destroy();
    if (this.#closed) throw closedError();
    const peer = new BoundedPeer(this.#context.id, { ...this.#context.peer, ...token, serializers: { json: TolerantJsonConnection } });
    peer.admitOffer = (from) => this.#admitOffer(from);
    this.#peer = peer;
    peer.on('connection', (connection) => this.#onInbound(connection));
    peer.on('call', (call) => {
      call.close();
      this.#violation({ peer: call.peer, reason: 'offered a media call; only data connections are spoken here' });
    });
    peer.on('error', (error) => this.#onPeerError(peer, error));
    peer.on('disconnected', () => this.#onServerLost(peer));
    peer.on('close', () => this.#onServerLost(peer));
    await this.#whenOpen(peer, this.#context.delivery.reconnectTimeoutMs);
    // Closed while registering: `close` destroyed this Peer already, or destroys it now.
    if (this.#closed) {
      peer.destroy();
      throw closedError();
    }
  }

  /** The app's token for this registration, as PeerJS's `token` option; nothing when the app gives none. */
  async #freshToken(): Promise<{ token?: string }> {
    const source = this.#context.token;
    if (source === undefined) return {};
    let token: unknown;
    try {
      token = typeof source === 'function' ? await source(this.#context.id) : source;
    } catch (error) {
      throw new InvitationError('UNAUTHORIZED', 'The token function failed', { cause: error });
    }
    if (typeof token !== 'string' || token === '') throw new InvitationError('UNAUTHORIZED', 'The token function gave no token');
    // PeerJS writes the token into the WebSocket URL as it is; the server decodes the query.
    return { token: encodeURIComponent(token) };
  }

  /** Resolves on the Peer's `open`; rejects on a server failure or after `ms`. */
  #whenOpen(peer: Peer, ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const listeners = new Subscription();
      const finish = (error?: InvitationError) => {
        listeners.unsubscribe();
        error ? reject(error) : resolve();
      };
      const onOpen = () => finish();
      const onClose = () => finish(new InvitationError('SERVER_UNREACHABLE', 'The Peer was destroyed before it opened'));
      const onError = (error: PeerError<string>) => {
        if (error.type === 'unavailable-id') finish(new InvitationError('USER_ID_TAKEN', `The id "${this.#context.id}" is already connected elsewhere`, { cause: error }));
        else if (error.type === 'server-error' && error.message.startsWith('UNAUTHORIZED')) {
          finish(new InvitationError('UNAUTHORIZED', `The PeerServer refused the token for "${this.#context.id}"`, { cause: error }));
        } else if (SERVER_FAILURES.has(error.type)) finish(new InvitationError('SERVER_UNREACHABLE', `The PeerServer could not be reached (${error.type})`, { cause: error }));
      };
      peer.on('open', onOpen);
      peer.on('error', onError);
      peer.on('close', onClose);
      listeners.add(() => {
        peer.off('open', onOpen);
        peer.off('error', onError);
        peer.off('close', onClose);
      });
      listeners.add(
        timer(ms, this.#context.scheduler).subscribe(() =>
          finish(new InvitationError('SERVER_UNREACHABLE', `The PeerServer did not answer within ${ms} ms`)),
        ),
      );
    });
  }

  #onPeerError(peer: Peer, error: PeerError<string>): void {
    if (peer !== this.#peer || error.type !== 'peer-unavailable') return;
    // PeerJS reports an offline peer here, never on the DataConnection; its message is the only place the id appears.
    const unreachable = /Could not connect to peer (.+)$/.exec(error.message)?.[1];
    if (unreachable === undefined) return;
    if (this.#offline.size < MAX_REMEMBERED_PEERS) this.#offline.add(unreachable);
    for (const link of this.#links.get(unreachable) ?? []) {
      if (!link.open) this.#drop(link, new InvitationError('PEER_UNREACHABLE', `Peer "${unreachable}" is not connected to the PeerServer`, { cause: error }));
    }
  }

  #onServerLost(peer: Peer): void {
    if (this.#closed || peer !== this.#peer || this.state$.value !== 'connected') return;
    this.state$.next('reconnecting');
    void this.#reconnect();
  }

  /**
   * Comes back to the server with capped backoff. `reconnect()` keeps open
   * DataConnections but can hang while the server still holds our old socket,
   * so after two tries the Peer is recreated (which closes them). It also
   * reuses the Peer's token: once the server refuses that, only a new Peer
   * (with a fresh token) can come back.
   */
  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    const { reconnectTimeoutMs, reconnectMaxDelayMs, retryInitialDelayMs } = this.#context.delivery;
    let tokenRefused = false;
    for (let attempt = 0; !this.#closed; attempt++) {
      await firstValueFrom(timer(backoffDelay(attempt, retryInitialDelayMs, reconnectMaxDelayMs), this.#context.scheduler));
      if (this.#closed) break;
      try {
        const peer = this.#peer;
        if (attempt < 2 && !tokenRefused && peer && !peer.destroyed) {
          peer.reconnect();
          await this.#whenOpen(peer, reconnectTimeoutMs);
        } else {
          await this.#register();
        }
        if (this.#closed) break;
        this.state$.next('connected');
        break;
      } catch (error) {
        tokenRefused ||= error instanceof InvitationError && error.code === 'UNAUTHORIZED';
        this.errors$.next(error instanceof InvitationError ? error : new InvitationError('SERVER_UNREACHABLE', 'Reconnecting to the PeerServer failed', { cause: error }));
      }
    }
    this.#reconnecting = false;
  }

  async connect(to: string): Promise<void> {
    const link = await this.#linkInTurn(to);
    if (link.open) return;
    // The peer may connect to us while our offer is still parked at the server: take whichever opens first.
    await new Promise<void>((resolve, reject) => {
      const inbound = this.peerOnline$.pipe(filter((peer) => peer === to), take(1)).subscribe(() => resolve());
      link.opened.then(resolve, reject).finally(() => inbound.unsubscribe());
    });
  }

  isOpen(to: string): boolean {
    return this.#openLink(to) !== undefined;
  }

  /**
   * A link to `to` now if there is one, or `to` was not last reported offline, or a place is
   * free; else once a place frees. Only retries to offline peers take turns: an attempt can
   * stay parked at the server for its whole mailbox time (60 s on the companion server), and
   * must not hold up a peer that is online.
   */
  async #linkInTurn(to: string): Promise<Link> {
    if (this.#links.has(to) || !this.#offline.has(to) || (this.#connectQueue.size === 0 && this.#outboundOpening() < MAX_OUTBOUND_OPENING)) return this.#linkTo(to);
    let queued = this.#connectQueue.get(to);
    if (!queued) {
      let resolve!: (link: Link) => void;
      let reject!: (error: unknown) => void;
      const link = new Promise<Link>((onLink, onError) => {
        resolve = onLink;
        reject = onError;
      });
      this.#connectQueue.set(to, (queued = { link, resolve, reject }));
    }
    return queued.link;
  }

  /** Starts queued connects while places are free; called whenever an outbound link stops opening. */
  #nextInTurn(): void {
    while (this.#connectQueue.size > 0 && this.#outboundOpening() < MAX_OUTBOUND_OPENING) {
      const waiting = [...this.#connectQueue.keys()];
      const to = waiting.find((peer) => !this.#offline.has(peer)) ?? waiting[0]!;
      const queued = this.#connectQueue.get(to)!;
      this.#connectQueue.delete(to);
      try {
        queued.resolve(this.#linkTo(to));
      } catch (error) {
        queued.reject(error);
      }
    }
  }

  /** Our own links still opening to peers last reported offline: the ones that take turns. */
  #outboundOpening(): number {
    let opening = 0;
    for (const link of this.#allLinks()) if (!link.inbound && !link.open && this.#offline.has(link.peer)) opening++;
    return opening;
  }

  /** The newest open link: an older one may be a stale channel to a page that reloaded. */
  #openLink(to: string): Link | undefined {
    let newest: Link | undefined;
    for (const link of this.#links.get(to) ?? []) if (link.open && (!newest || link.openedAt >= newest.openedAt)) newest = link;
    return newest;
  }

  /**
   * Writes on every open link with `to`, the newest first: while two are open (a peer
   * that came back, or both sides connecting at once) either may be the one that dies,
   * and the receiver drops the repeat.
   */
  send(to: string, message: Message): void {
    const newest = this.#openLink(to);
    if (!newest) throw new InvitationError('PEER_UNREACHABLE', `No open connection with "${to}"`);
    const now = this.#now();
    for (const link of [newest, ...[...(this.#links.get(to) ?? [])].filter((other) => other.open && other !== newest)]) {
      link.lastUsed = now;
      link.connection.send(message);
    }
  }

  /** An open link if there is one, else one being opened, else a new one. */
  #linkTo(to: string): Link {
    const open = this.#openLink(to);
    if (open) return open;
    let opening: Link | undefined;
    for (const link of this.#links.get(to) ?? []) opening ??= link;
    if (opening) return opening;
    // Connecting before the Peer is open can lose the offer; the caller retries once we are back.
    if (this.state$.value !== 'connected' || !this.#peer) throw new InvitationError('NOT_CONNECTED', 'Not connected to the PeerServer');
    if (this.#guard.isBanned(to)) throw new InvitationError('PEER_UNREACHABLE', `"${to}" is cut off for breaking the protocol`);
    this.#connectAttempts++;
    const link = this.#adopt(this.#peer.connect(to, { reliable: true, serialization: 'json' }), false);
    this.#enforceConnectionLimit(link);
    return link;
  }

  /**
   * Before PeerJS builds an RTCPeerConnection for an offer: none from a peer cut
   * off, and none faster than OFFERS_PER_PEER_PER_SECOND from one peer (a
   * violation). There is no total allowance: an honest offer dropped unseen
   * would wait a whole `connectTimeoutMs`; all peers together are bounded by
   * `maxPendingInboundConnections` instead, once built.
   */
  #admitOffer(from: string): boolean {
    if (this.#guard.isBanned(from)) {
      this.#refusedOffers++;
      return false;
    }
    let bucket = this.#offersByPeer.get(from);
    if (!bucket) {
      if (this.#offersByPeer.size >= MAX_REMEMBERED_PEERS) this.#offersByPeer.delete(this.#offersByPeer.keys().next().value as string);
      bucket = new TokenBucket(OFFERS_PER_PEER_PER_SECOND, OFFER_BURST_PER_PEER, () => this.#now());
      this.#offersByPeer.set(from, bucket);
    }
    if (bucket.take()) return true;
    this.#refusedOffers++;
    this.#violation({ peer: from, reason: `offered more than ${OFFERS_PER_PEER_PER_SECOND} connections per second` });
    return false;
  }

  /** Takes a remote's connection only if it is the kind we speak, from a peer we listen to, and there is room. */
  #onInbound(connection: DataConnection): void {
    const { peer } = connection;
    if (this.#guard.isBanned(peer)) return closeQuietly(connection);
    if (connection.serialization !== 'json' || !connection.reliable) {
      closeQuietly(connection);
      const kind = `${connection.reliable ? '' : 'unreliable '}${connection.serialization}`;
      return this.#violation({ peer, reason: `opened a ${kind} connection; only reliable JSON connections are spoken here` });
    }
    // A peer opens one connection at a time; a second offer means the first one is stale (a reload) or abuse.
    for (const link of this.#links.get(peer) ?? []) {
      if (link.inbound && !link.open) this.#drop(link, new InvitationError('PEER_UNREACHABLE', `"${peer}" offered a newer connection`));
    }
    const link = this.#adopt(connection, true);
    this.#limitPendingInbound();
    if (!link.dropped) this.#enforceConnectionLimit(link);
  }

  /**
   * Closes the oldest inbound connections still opening beyond `maxPendingInboundConnections`.
   * Oldest, not newest: offers that will never open would otherwise hold every place until
   * `connectTimeoutMs`, and an honest peer's offer made during a flood could never get in.
   */
  #limitPendingInbound(): void {
    const pending = this.#allLinks()
      .filter((link) => link.inbound && !link.open)
      .sort((a, b) => a.serial - b.serial);
    const excess = pending.length - this.#limits.maxPendingInboundConnections;
    for (const link of pending.slice(0, Math.max(0, excess))) {
      this.#drop(link, new InvitationError('PEER_UNREACHABLE', 'Closed to stay under maxPendingInboundConnections'));
    }
  }

  /** Tracks a connection, ours or the remote's, from its first event to its one teardown. */
  #adopt(connection: DataConnection, inbound: boolean): Link {
    let settleOpened!: (error?: InvitationError) => void;
    const opened = new Promise<void>((resolve, reject) => {
      settleOpened = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be waiting (an inbound link); the failure is reported through `send`.
    opened.catch(() => {});
    const now = this.#now();
    const { maxMessagesPerSecond } = this.#limits;
    const link: Link = {
      peer: connection.peer,
      connection,
      inbound,
      serial: this.#linkSerial++,
      open: false,
      openedAt: 0,
      dropped: false,
      bucket: new TokenBucket(maxMessagesPerSecond, 2 * maxMessagesPerSecond, () => this.#now()),
      opened,
      lastHeard: now,
      lastUsed: now,
      teardown: new Subscription(),
      settle: settleOpened,
    };
    let set = this.#links.get(link.peer);
    if (!set) this.#links.set(link.peer, (set = new Set()));
    set.add(link);

    // Handlers go on synchronously: data can follow `open` in the same task.
    connection.on('data', (frame) => {
      if (link.dropped) return;
      if (!link.bucket.take()) {
        return this.#violation({ peer: link.peer, reason: `sent more than ${maxMessagesPerSecond} messages per second; the excess was dropped` });
      }
      link.lastHeard = this.#now();
      if (isPing(frame)) return;
      link.lastUsed = link.lastHeard;
      this.frames$.next({ from: link.peer, frame });
    });
    connection.on('open', () => {
      if (link.dropped) return;
      // The offer's `reliable` is the remote's word; the channel itself says what it is.
      const channel = connection.dataChannel as RTCDataChannel | undefined;
      if (channel && (!channel.ordered || channel.maxRetransmits !== null || channel.maxPacketLifeTime !== null)) {
        this.#drop(link, new InvitationError('PEER_UNREACHABLE', `"${link.peer}" opened an unreliable channel`));
        return this.#violation({ peer: link.peer, reason: 'opened an unordered or lossy data channel; only reliable JSON connections are spoken here' });
      }
      link.open = true;
      this.#offline.delete(link.peer);
      link.openedAt = link.lastHeard = link.lastUsed = this.#now();
      link.settle();
      if (!link.inbound) this.#nextInTurn();
      this.#keepNewestLinks(link.peer);
      this.peerOnline$.next(link.peer);
    });
    connection.on('close', () => this.#drop(link, new InvitationError('PEER_UNREACHABLE', `The connection to "${link.peer}" closed`)));
    connection.on('error', (error) => this.#drop(link, new InvitationError('PEER_UNREACHABLE', `The connection to "${link.peer}" failed (${error.type})`, { cause: error })));
    connection.on('iceStateChanged', (state) => {
      if (state === 'failed' || state === 'closed') this.#drop(link, new InvitationError('PEER_UNREACHABLE', `The connection to "${link.peer}" ${state}`));
    });
    link.teardown.add(() => connection.removeAllListeners());
    const { connectTimeoutMs } = this.#context.delivery;
    link.teardown.add(
      timer(connectTimeoutMs, this.#context.scheduler).subscribe(() => {
        if (!link.open) this.#drop(link, new InvitationError('PEER_UNREACHABLE', `The connection to "${link.peer}" did not open within ${connectTimeoutMs} ms`));
      }),
    );
    return link;
  }

  /** The one teardown of a link, whatever ended it. */
  #drop(link: Link, reason: InvitationError): void {
    if (link.dropped) return;
    link.dropped = true;
    link.open = false;
    const set = this.#links.get(link.peer);
    set?.delete(link);
    if (set?.size === 0) this.#links.delete(link.peer);
    link.teardown.unsubscribe();
    link.settle(reason);
    closeQuietly(link.connection);
    if (!link.inbound && !this.#closed) this.#nextInTurn();
    // What was written on a link that closed may be lost: another one still open is the way to resend it now.
    const wasOpen = link.openedAt > 0;
    if (wasOpen && !this.#closed && this.#openLink(link.peer)) this.peerOnline$.next(link.peer);
  }

  /** Pings every open link, and closes the silent (dead) and the idle ones. */
  #beat(): void {
    const now = this.#now();
    const { heartbeatIntervalMs, idleTimeoutMs } = this.#context.delivery;
    for (const link of this.#allLinks()) {
      if (!link.open) continue;
      if (now - link.lastHeard > 3 * heartbeatIntervalMs) {
        this.#drop(link, new InvitationError('PEER_UNREACHABLE', `"${link.peer}" stopped answering`));
      } else if (now - link.lastUsed > idleTimeoutMs) {
        this.#drop(link, new InvitationError('PEER_UNREACHABLE', `The connection to "${link.peer}" was idle`));
      } else {
        link.connection.send(PING);
      }
    }
  }

  /** At most OPEN_LINKS_PER_PEER open connections with a peer: the newest stay. */
  #keepNewestLinks(peer: string): void {
    const open = [...(this.#links.get(peer) ?? [])].filter((link) => link.open).sort((a, b) => b.openedAt - a.openedAt || b.serial - a.serial);
    for (const link of open.slice(OPEN_LINKS_PER_PEER)) {
      this.#drop(link, new InvitationError('PEER_UNREACHABLE', `Newer connections with "${peer}" replaced this one`));
    }
  }

  /**
   * At most `maxConnections` links, opening ones included. To make room, inbound
   * links still opening go first (oldest first), then idle open ones (least
   * recently used first), then our own still opening.
   */
  #enforceConnectionLimit(keep: Link): void {
    const others = this.#allLinks().filter((link) => link !== keep);
    const excess = others.length + 1 - this.#context.delivery.maxConnections;
    if (excess <= 0) return;
    const bySerial = (a: Link, b: Link) => a.serial - b.serial;
    const order = [
      ...others.filter((link) => link.inbound && !link.open).sort(bySerial),
      ...others.filter((link) => link.open).sort((a, b) => a.lastUsed - b.lastUsed),
      ...others.filter((link) => !link.inbound && !link.open).sort(bySerial),
    ];
    for (const link of order.slice(0, excess)) this.#drop(link, new InvitationError('PEER_UNREACHABLE', 'Closed to stay under maxConnections'));
  }

  // ---- violations ---------------------------------------------------------

  reportViolation(violation: PeerViolation): void {
    this.#violation(violation);
  }

  /** Counts a violation; bans at `violationsBeforeCooldown`, else reports it if this peer was not reported lately. */
  #violation(violation: PeerViolation): void {
    if (this.#closed || this.#guard.isBanned(violation.peer)) return;
    this.violations$.next(violation);
    if (this.#guard.count(violation.peer)) {
      this.ban(violation.peer, { reason: `${this.#limits.violationsBeforeCooldown} violations, the last: ${violation.reason}` });
    } else {
      this.#report(violation.peer, violation.reason);
    }
  }

  ban(peer: string, { reason, ms = this.#limits.cooldownMs }: { reason: string; ms?: number }): void {
    if (this.#closed) return;
    this.#guard.ban(peer, ms);
    for (const link of [...(this.#links.get(peer) ?? [])]) this.#drop(link, new InvitationError('PEER_UNREACHABLE', `"${peer}" is cut off for breaking the protocol`));
    this.#report(peer, `${reason}; its connections are closed and it is ignored for ${ms} ms`);
  }

  isBanned(peer: string): boolean {
    return this.#guard.isBanned(peer);
  }

  /** One error per peer per cool-down, so that a peer cannot flood the app's error log. */
  #report(peer: string, reason: string): void {
    if (!this.#guard.mayReport(peer)) return;
    this.errors$.next(new InvitationError('PROTOCOL_VIOLATION', `Peer "${peer}": ${reason} (further violations by this peer are not reported for ${this.#limits.cooldownMs} ms)`));
  }

  #allLinks(): Link[] {
    return [...this.#links.values()].flatMap((set) => [...set]);
  }

  stats(): TransportStats {
    const links = this.#allLinks();
    const openConnections = links.filter((link) => link.open).length;
    return {
      connectAttempts: this.#connectAttempts,
      openConnections,
      openingConnections: links.length - openConnections,
      refusedOffers: this.#refusedOffers,
      bannedPeers: this.#guard.bannedCount(),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.unsubscribe();
    for (const link of this.#allLinks()) this.#drop(link, new InvitationError('DISPOSED', 'The transport closed'));
    for (const queued of this.#connectQueue.values()) queued.reject(new InvitationError('DISPOSED', 'The transport closed'));
    this.#connectQueue.clear();
    this.#peer?.destroy();
    this.#peer = undefined;
    this.state$.next('disconnected');
    this.state$.complete();
    this.frames$.complete();
    this.peerOnline$.complete();
    this.errors$.complete();
    this.violations$.complete();
  }
}

function closeQuietly(connection: DataConnection): void {
  try {
    connection.close();
  } catch {
    // Closing a connection that never opened can throw inside PeerJS; it is gone either way.
  }
}

function closedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The transport was closed while registering');
}
