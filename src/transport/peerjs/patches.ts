/**
 * Two patches on PeerJS 1.5 for hostile peers: a JSON connection that hands
 * broken frames on instead of throwing, and a Peer that drops refused offers
 * unseen and bounds the signaling messages it parks.
 */
import { BufferedConnection, DataConnectionErrorType, Peer, util } from 'peerjs';
import { NOT_JSON } from '../../core/protocol.js';

/** Signaling messages PeerJS keeps for connections it does not know: per connection, and connections. */
export const MAX_PARKED_SIGNALS = 32;

/**
 * PeerJS's own JSON connection throws inside its message handler when a peer
 * sends `null` or text that is not JSON. This one hands every frame on (broken
 * ones as NOT_JSON) for the protocol decoder to judge.
 */
export class TolerantJsonConnection extends BufferedConnection {
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
