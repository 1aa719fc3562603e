/**
 * What the companion server offers beside signaling (PROTOCOL.md, "Server
 * messages"): SERVER-INFO after registration says whether it relays and which
 * TURN servers to use; RELAY carries a protocol message to or from a peer with
 * no open data channel. A plain PeerServer sends no SERVER-INFO: then nothing
 * is relayed and only the app's own ICE servers are used.
 */
import type { PeerJSOption } from 'peerjs';
import type { BoundedPeer, ServerMessage } from './patches.js';

/** The most ICE servers taken from one SERVER-INFO. */
const MAX_SERVER_ICE_SERVERS = 8;
/** A relayed frame's JSON may weigh this much, the message at most 16,000 bytes (PROTOCOL.md). */
const MAX_RELAY_BYTES = 16_200;

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

  /** `enabled: false` neither sends nor takes relayed messages (the plugin's `relay: false`). */
  constructor(enabled: boolean, host: ServerChannelHost) {
    this.#enabled = enabled;
    this.#host = host;
  }

  /** A new Peer: nothing is known of its server until it says so. */
  attach(peer: BoundedPeer): void {
    this.#peer = peer;
    this.#relay = false;
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
      default:
        return false;
    }
  }

  #serverInfo(payload: unknown): void {
    if (typeof payload !== 'object' || payload === null || !this.#peer) return;
    const info = payload as { relay?: unknown; iceServers?: unknown };
    this.#relay = info.relay === true;
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
