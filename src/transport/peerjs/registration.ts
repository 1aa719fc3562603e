/**
 * Registration with the PeerServer: claims the id (retrying while the server
 * still holds it), and comes back after losing the server. `reconnect()` calls
 * that never finish are timed out and the Peer recreated.
 */
import { type PeerError } from 'peerjs';
import { BehaviorSubject, Subscription, firstValueFrom, timer } from 'rxjs';
import { backoffDelay } from '../../core/backoff.js';
import { InvitationError } from '../../errors.js';
import { BoundedPeer, TolerantJsonConnection } from './patches.js';
import type { TransportContext } from '../transport.js';
import type { ConnectionState } from '../../api/types.js';

const SERVER_FAILURES = new Set(['network', 'server-error', 'socket-error', 'socket-closed', 'ssl-unavailable', 'browser-incompatible']);

export interface RegistrationHost {
  /** A new Peer, before it registers: attach its listeners. */
  adopt(peer: BoundedPeer): void;
  /** A failed reconnection attempt, worth knowing. */
  report(error: InvitationError): void;
}

export class Registration {
  /** Replays the current state. */
  readonly state$ = new BehaviorSubject<ConnectionState>('disconnected');
  #peer: BoundedPeer | undefined;
  #closed = false;
  #reconnecting = false;
  readonly #context: TransportContext;
  readonly #host: RegistrationHost;

  constructor(context: TransportContext, host: RegistrationHost) {
    this.#context = context;
    this.#host = host;
  }

  /** The current Peer, if any. */
  get peer(): BoundedPeer | undefined {
    return this.#peer;
  }

  get connected(): boolean {
    return this.state$.value === 'connected';
  }

  /** Registers, retrying with backoff for `idTakenRetryMs` while the server still holds our id. */
  async open(): Promise<void> {
    this.state$.next('connecting');
    const { idTakenRetryMs, retryInitialDelayMs, retryMaxDelayMs } = this.#context.delivery;
    const giveUpAt = this.#now() + idTakenRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#register();
        this.state$.next('connected');
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, retryInitialDelayMs, retryMaxDelayMs);
        const taken = error instanceof InvitationError && error.code === 'USER_ID_TAKEN';
        if (!taken || this.#closed || this.#now() + delay > giveUpAt) throw error;
        await firstValueFrom(timer(delay, this.#context.scheduler));
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#peer?.destroy();
    this.#peer = undefined;
    this.state$.next('disconnected');
    this.state$.complete();
  }

  #now(): number {
    return this.#context.clock.now();
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
    this.#peer = peer;
    this.#host.adopt(peer);
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
  #whenOpen(peer: BoundedPeer, ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const listeners = new Subscription();
      const finish = (error?: InvitationError) => {
        listeners.unsubscribe();
        error ? reject(error) : resolve();
      };
      const onOpen = () => finish();
      const onClose = () => finish(new InvitationError('SERVER_UNREACHABLE', 'The Peer was destroyed before it opened'));
      const onError = (error: PeerError<string>) => {
        const failure = this.#registrationFailure(error);
        if (failure) finish(failure);
      };
      peer.on('open', onOpen);
      peer.on('error', onError);
      peer.on('close', onClose);
      listeners.add(() => {
        peer.off('open', onOpen);
        peer.off('error', onError);
        peer.off('close', onClose);
      });
      listeners.add(timer(ms, this.#context.scheduler).subscribe(() => finish(new InvitationError('SERVER_UNREACHABLE', `The PeerServer did not answer within ${ms} ms`))));
    });
  }

  /** What a Peer error means for registering; undefined for errors about something else. */
  #registrationFailure(error: PeerError<string>): InvitationError | undefined {
    const id = this.#context.id;
    if (error.type === 'unavailable-id') return new InvitationError('USER_ID_TAKEN', `The id "${id}" is already connected elsewhere`, { cause: error });
    if (error.type === 'server-error' && error.message.startsWith('UNAUTHORIZED')) {
      return new InvitationError('UNAUTHORIZED', `The PeerServer refused the token for "${id}"`, { cause: error });
    }
    if (SERVER_FAILURES.has(error.type)) return new InvitationError('SERVER_UNREACHABLE', `The PeerServer could not be reached (${error.type})`, { cause: error });
    return undefined;
  }

  #onServerLost(peer: BoundedPeer): void {
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
        this.#host.report(error instanceof InvitationError ? error : new InvitationError('SERVER_UNREACHABLE', 'Reconnecting to the PeerServer failed', { cause: error }));
      }
    }
    this.#reconnecting = false;
  }
}

function closedError(): InvitationError {
  return new InvitationError('DISPOSED', 'The transport was closed while registering');
}
