/**
 * What the companion server offers beside signaling (PROTOCOL.md, "Server
 * messages"): SERVER-INFO after registration says whether it relays and which
 * TURN servers to use; RELAY carries a protocol message to or from a peer with
 * no open data channel. A plain PeerServer sends no SERVER-INFO: then nothing
 * is relayed and only the app's own ICE servers are used.
 */
import type { PeerJSOption } from 'peerjs';
import type { PushServerLink } from '../../push/enable-push.js';
import type { BoundedPeer, ServerMessage } from './patches.js';

/** The most ICE servers taken from one SERVER-INFO. */
const MAX_SERVER_ICE_SERVERS = 8;
/** A relayed frame's JSON may weigh this much, the message at most 16,000 bytes (PROTOCOL.md). */
const MAX_RELAY_BYTES = 16_200;
/** How long a PUSH-SUBSCRIBE/UNSUBSCRIBE waits for its PUSH-RESULT. */
export const PUSH_RESULT_TIMEOUT_MS = 10_000;
/** How long `push.ready()` waits for a SERVER-INFO after registration (a plain PeerServer sends none). */
export const SERVER_INFO_WAIT_MS = 2_000;
/** At most this many push requests wait for their result at once. */
const MAX_PENDING_PUSH = 8;

type PushFrame = Parameters<PushServerLink['request']>[0];
type PushResult = Awaited<ReturnType<PushServerLink['request']>>;
interface PendingPush {
  resolve(result: PushResult): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface ServerChannelHost {
  /** A message relayed from `from` (the server's word for who sent it). */
  relayed(from: string, payload: unknown): void;
}

export class ServerChannel {
  readonly #enabled: boolean;
  readonly #host: ServerChannelHost;
  #peer: BoundedPeer | undefined;
  #baseConfig: RTCConfiguration = {};
  #relay = false;
  /** The VAPID public key of the last SERVER-INFO, when the server sends push. */
  #pushKey: string | undefined;
  /** PUSH-SUBSCRIBE/UNSUBSCRIBE sent, by endpoint, waiting for their PUSH-RESULT. */
  readonly #pendingPush = new Map<string, PendingPush>();
  /** What enablePush/disablePush need of the server (src/push/enable-push.ts). */
  /** Whoever waits for the SERVER-INFO of the current Peer. */
  #infoWaiters: (() => void)[] = [];
  #infoSeen = false;
  readonly push: PushServerLink = {
    ready: () => this.#serverInfoSeen(),
    pushKey: () => (this.#peer?.open ? this.#pushKey : undefined),
    request: (frame) => this.#pushRequest(frame),
  };

  /** `enabled: false` neither sends nor takes relayed messages (the plugin's `relay: false`). */
  constructor(enabled: boolean, host: ServerChannelHost) {
    this.#enabled = enabled;
    this.#host = host;
  }

  /** A new Peer: nothing is known of its server until it says so. */
  attach(peer: BoundedPeer): void {
    this.#peer = peer;
    this.#relay = false;
    this.#pushKey = undefined;
    this.#infoSeen = false;
    this.#failPending('The connection to the server was replaced');
    const options = peer.options as PeerJSOption;
    this.#baseConfig = { ...(options.config ?? {}) };
    peer.onServerMessage = (message) => this.#handle(message);
  }

  /** Whether a message to a peer with no open channel can go through the server now. */
  get relays(): boolean {
    return this.#enabled && this.#relay && this.#peer !== undefined && this.#peer.open;
  }

  /** Sends `message` to `to` through the server; false when it cannot. */
  relay(to: string, message: unknown): boolean {
    if (!this.relays) return false;
    const frame = { type: 'RELAY', dst: to, payload: message };
    if (new TextEncoder().encode(JSON.stringify(frame)).byteLength > MAX_RELAY_BYTES) return false;
    this.#peer!.socket.send(frame);
    return true;
  }

  /** True when the message was ours to handle (PeerJS never sees it). */
  #handle(message: ServerMessage): boolean {
    switch (message.type) {
      case 'SERVER-INFO':
        this.#serverInfo(message.payload);
        return true;
      case 'RELAY':
        if (this.#enabled && typeof message.src === 'string' && message.src !== '') this.#host.relayed(message.src, message.payload);
        return true;
      case 'RELAY-REFUSED':
        // Delivery retries after its ack timeout; a server that turned the relay off is not asked again.
        if ((message.payload as { reason?: unknown } | undefined)?.reason === 'off') this.#relay = false;
        return true;
      case 'PUSH-RESULT':
        this.#pushResult(message.payload);
        return true;
      default:
        return false;
    }
  }

  /** Sends a push frame on the registered socket; resolves with the PUSH-RESULT for its endpoint. */
  #pushRequest(frame: PushFrame): Promise<PushResult> {
    const payload = frame.payload as { subscription?: { endpoint?: unknown }; endpoint?: unknown };
    const endpoint = frame.type === 'PUSH-SUBSCRIBE' ? payload.subscription?.endpoint : payload.endpoint;
    if (typeof endpoint !== 'string' || endpoint === '') return Promise.reject(new Error('No endpoint in the push request'));
    if (!this.#peer?.open) return Promise.reject(new Error('Not registered with the server'));
    if (this.#pendingPush.has(endpoint) || this.#pendingPush.size >= MAX_PENDING_PUSH) return Promise.reject(new Error('A push request for this endpoint is already waiting'));
    return new Promise<PushResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingPush.delete(endpoint);
        reject(new Error(`No PUSH-RESULT within ${PUSH_RESULT_TIMEOUT_MS} ms`));
      }, PUSH_RESULT_TIMEOUT_MS);
      this.#pendingPush.set(endpoint, { resolve, reject, timer });
      this.#peer!.socket.send({ type: frame.type, payload: frame.payload });
    });
  }

  #pushResult(payload: unknown): void {
    if (typeof payload !== 'object' || payload === null) return;
    const { endpoint, ok, reason } = payload as { endpoint?: unknown; ok?: unknown; reason?: unknown };
    const pending = typeof endpoint === 'string' ? this.#pendingPush.get(endpoint) : undefined;
    if (!pending) return;
    this.#pendingPush.delete(endpoint as string);
    clearTimeout(pending.timer);
    pending.resolve(ok === true ? { ok: true } : { ok: false, ...(typeof reason === 'string' ? { reason: reason.slice(0, 64) } : {}) });
  }

  /** Rejects every push request still waiting (the Peer went, or the transport closed). */
  #failPending(why: string): void {
    for (const pending of this.#pendingPush.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error(why));
    }
    this.#pendingPush.clear();
  }

  /** The transport closed. */
  close(): void {
    for (const waiter of this.#infoWaiters.splice(0)) waiter();
    this.#failPending('The transport closed');
    this.#peer = undefined;
  }

  #serverInfoSeen(): Promise<void> {
    if (this.#infoSeen || !this.#peer) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SERVER_INFO_WAIT_MS);
      this.#infoWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #serverInfo(payload: unknown): void {
    this.#infoSeen = true;
    for (const waiter of this.#infoWaiters.splice(0)) waiter();
    if (typeof payload !== 'object' || payload === null || !this.#peer) return;
    const info = payload as { relay?: unknown; iceServers?: unknown; push?: { publicKey?: unknown } };
    this.#relay = info.relay === true;
    const publicKey = typeof info.push === 'object' && info.push !== null ? info.push.publicKey : undefined;
    this.#pushKey = typeof publicKey === 'string' && /^[A-Za-z0-9_-]{80,100}$/.test(publicKey) ? publicKey : undefined;
    const iceServers = Array.isArray(info.iceServers) ? info.iceServers.filter(isIceServer).slice(0, MAX_SERVER_ICE_SERVERS).map(iceServer) : [];
    // PeerJS reads `options.config` for every RTCPeerConnection it builds: the app's servers first, then the server's.
    (this.#peer.options as PeerJSOption).config = { ...this.#baseConfig, iceServers: [...(this.#baseConfig.iceServers ?? []), ...iceServers] };
  }
}

/** Only the fields RTCPeerConnection reads. */
function iceServer({ urls, username, credential }: RTCIceServer): RTCIceServer {
  return { urls, ...(username === undefined ? {} : { username }), ...(credential === undefined ? {} : { credential }) };
}

function isIceServer(value: unknown): value is RTCIceServer {
  if (typeof value !== 'object' || value === null) return false;
  const { urls, username, credential } = value as Record<string, unknown>;
  const urlsOk = typeof urls === 'string' || (Array.isArray(urls) && urls.length > 0 && urls.every((url) => typeof url === 'string'));
  return urlsOk && (username === undefined || typeof username === 'string') && (credential === undefined || typeof credential === 'string');
}
