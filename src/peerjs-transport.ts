/**
 * The PeerJS transport: the only module that imports peerjs. It owns the Peer
 * (registration, reconnection) and the DataConnections (opening, keep-alive,
 * closing), and works around PeerJS 1.5's known gaps: failures reported on the
 * Peer instead of the connection, connections that never emit `close`, and
 * `reconnect()` calls that never finish.
 */
import { BufferedConnection, DataConnectionErrorType, Peer, util, type DataConnection, type PeerError } from 'peerjs';
import { BehaviorSubject, Subject, Subscription, filter, firstValueFrom, take, timer } from 'rxjs';
import { backoffDelay } from './backoff.js';
import { InvitationError } from './errors.js';
import { NOT_JSON, PING, isPing, type Message } from './protocol.js';
import type { IncomingFrame, Transport, TransportContext, TransportFactory, TransportStats } from './transport.js';
import type { ConnectionState } from './types.js';

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

/** One DataConnection and what we know of it. */
interface Link {
  readonly peer: string;
  readonly connection: DataConnection;
  open: boolean;
  /** When it opened (clock ms); the newest open link is the one to write on. */
  openedAt: number;
  dropped: boolean;
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

  #peer: Peer | undefined;
  readonly #links = new Map<string, Set<Link>>();
  /** Peers cut off by `ban`, until when (clock ms). */
  readonly #bannedUntil = new Map<string, number>();
  readonly #lifetime = new Subscription();
  #closed = false;
  #reconnecting = false;
  #connectAttempts = 0;

  readonly #context: TransportContext;

  constructor(context: TransportContext) {
    this.#context = context;
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
    const peer = new Peer(this.#context.id, { ...this.#context.peer, ...token, serializers: { json: TolerantJsonConnection } });
    this.#peer = peer;
    peer.on('connection', (connection) => {
      if (this.#isBanned(connection.peer)) connection.close();
      else this.#adopt(connection);
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
    const link = this.#linkTo(to);
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
   * The newest open link: after a reload the peer's old connection can still read
   * `open` for seconds, and what goes down it is lost (BROWSER-TESTING.md, fact 19).
   */
  #openLink(to: string): Link | undefined {
    let newest: Link | undefined;
    for (const link of this.#links.get(to) ?? []) if (link.open && (!newest || link.openedAt >= newest.openedAt)) newest = link;
    return newest;
  }

  send(to: string, message: Message): void {
    const link = this.#openLink(to);
    if (!link) throw new InvitationError('PEER_UNREACHABLE', `No open connection with "${to}"`);
    link.lastUsed = this.#now();
    link.connection.send(message);
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
    if (this.#isBanned(to)) throw new InvitationError('PEER_UNREACHABLE', `"${to}" is cut off for now`);
    this.#connectAttempts++;
    return this.#adopt(this.#peer.connect(to, { reliable: true, serialization: 'json' }));
  }

  /** Tracks a connection, ours or the remote's, from its first event to its one teardown. */
  #adopt(connection: DataConnection): Link {
    let settleOpened!: (error?: InvitationError) => void;
    const opened = new Promise<void>((resolve, reject) => {
      settleOpened = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be waiting (an inbound link); the failure is reported through `send`.
    opened.catch(() => {});
    const now = this.#now();
    const link: Link = {
      peer: connection.peer,
      connection,
      open: false,
      openedAt: 0,
      dropped: false,
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
      link.lastHeard = this.#now();
      if (isPing(frame)) return;
      link.lastUsed = link.lastHeard;
      this.frames$.next({ from: link.peer, frame });
    });
    connection.on('open', () => {
      if (link.dropped) return;
      link.open = true;
      link.openedAt = link.lastHeard = link.lastUsed = this.#now();
      link.settle();
      this.peerOnline$.next(link.peer);
      this.#enforceConnectionLimit(link);
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
    try {
      link.connection.close();
    } catch {
      // Closing a connection that never opened can throw inside PeerJS; it is gone either way.
    }
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

  #enforceConnectionLimit(keep: Link): void {
    const open = this.#allLinks().filter((link) => link.open && link !== keep);
    const excess = open.length + 1 - this.#context.delivery.maxConnections;
    if (excess <= 0) return;
    open.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const link of open.slice(0, excess)) this.#drop(link, new InvitationError('PEER_UNREACHABLE', 'Closed to stay under maxConnections'));
  }

  #allLinks(): Link[] {
    return [...this.#links.values()].flatMap((set) => [...set]);
  }

  ban(peer: string, ms: number): void {
    this.#bannedUntil.set(peer, this.#now() + ms);
    for (const link of this.#links.get(peer) ?? []) this.#drop(link, new InvitationError('PEER_UNREACHABLE', `"${peer}" is cut off for ${ms} ms`));
  }

  #isBanned(peer: string): boolean {
    const until = this.#bannedUntil.get(peer);
    if (until === undefined) return false;
    if (this.#now() < until) return true;
    this.#bannedUntil.delete(peer);
    return false;
  }

  stats(): TransportStats {
    return { connectAttempts: this.#connectAttempts, openConnections: this.#allLinks().filter((link) => link.open).length };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.unsubscribe();
    for (const link of this.#allLinks()) this.#drop(link, new InvitationError('DISPOSED', 'The transport closed'));
    this.#peer?.destroy();
    this.#peer = undefined;
    this.state$.next('disconnected');
    this.state$.complete();
    this.frames$.complete();
    this.peerOnline$.complete();
    this.errors$.complete();
  }
}

function closedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The transport was closed while registering');
}
