/**
 * The call that follows an accepted invitation. The library only carries
 * invitations; the call itself is the app's business. Here it is a PeerJS media
 * call between the two tabs: each tab registers a second Peer, `<user id>-media`,
 * beside the plugin's. The inviter calls an invitee once they accept; the invitee
 * answers only an inviter whose invitation it accepted.
 *
 * One call at a time: accepting an invitation ends the call in progress, and an
 * inviter already in a call does not call a second invitee who accepts.
 */
import { Peer, type MediaConnection, type PeerError, type PeerOptions } from 'peerjs';
import type { CallPanel } from './call-panel.js';
import type { TokenFetcher } from './config.js';
import { callTypeLabel } from './dom.js';
import type { EventLog } from './event-log.js';

/** How long a call may take to bring the other side's media: PeerJS itself never gives up on an unanswered call. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Delay before the media Peer tries the PeerServer again (lost connection, or its id still held after a reload). */
const RETRY_MS = 3000;

export const mediaPeerId = (userId: string) => `${userId}-media`;

interface Call {
  /** The other user's id. */
  other: string;
  type: number;
  connection?: MediaConnection;
  local?: MediaStream;
  /** Whether the other side's media has arrived. */
  connected: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

export class MediaCalls {
  private peer: Peer | undefined;
  private call: Call | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by close(): a registration still waiting for its token then gives up. */
  private generation = 0;
  /** Inviters whose invitation this user accepted, with its call type: only their calls are answered. */
  private readonly expected = new Map<string, number>();
  /** Whether the log already said that another tab of this user holds the media peer (it is retried quietly). */
  private heldElsewhereSaid = false;

  constructor(
    private readonly panel: CallPanel,
    private readonly log: EventLog,
    /** The same PeerServer options as the plugin's. */
    private readonly peerOptions: PeerOptions,
    /** The plugin's token source: the media Peer's id needs a token of its own. */
    private readonly token?: TokenFetcher,
  ) {}

  /** Registers `<userId>-media` with the PeerServer; called once the plugin has connected as `userId`. */
  open(userId: string): void {
    this.close();
    this.register(userId);
  }

  /** Ends any call and unregisters the media Peer; safe to call twice. */
  close(): void {
    if (this.call) this.end(this.call, `call with ${this.call.other} ended: you disconnected`);
    this.expected.clear();
    this.heldElsewhereSaid = false;
    clearTimeout(this.retryTimer);
    this.generation += 1;
    const peer = this.peer;
    this.peer = undefined;
    peer?.destroy();
  }

  /** Called before accepting an invitation, so the inviter's call is answered even if it comes before the accept resolves. */
  expectCallFrom(inviter: string, type: number): void {
    this.expected.set(inviter, type);
  }

  /** The accept failed: a call from `inviter` is no longer expected. */
  forget(inviter: string): void {
    this.expected.delete(inviter);
  }

  hangUp(): void {
    if (this.call) this.end(this.call, `you hung up on ${this.call.other}`);
  }

  /** `invitee` accepted an invitation of ours: calls them with audio, and video for a video call (type 1). */
  callInvitee(invitee: string, type: number): void {
    if (this.call) {
      this.log.add('call', `${invitee} accepted, but you are in a call with ${this.call.other}: the demo holds one call at a time`, 'bad');
      return;
    }
    const call = this.begin(invitee, type, `Calling ${invitee}…`);
    void this.run(call, async () => {
      const local = await this.localStream(call);
      if (!local) return;
      // PeerJS returns nothing when its Peer is not connected to the server, and may lose an offer made before `open`.
      const connection: MediaConnection | undefined = this.peer?.open ? this.peer.call(mediaPeerId(invitee), local, { metadata: { type } }) : undefined;
      if (!connection) return this.end(call, `could not call ${invitee}: your media peer is not connected to the PeerServer`, 'bad');
      this.log.add('call', `calling ${invitee} (${callTypeLabel(type)})`);
      this.watch(call, connection);
    });
  }

  private register(userId: string): void {
    const generation = this.generation;
    this.optionsFor(mediaPeerId(userId)).then(
      (options) => {
        if (generation === this.generation) this.registerWith(userId, options);
      },
      (error: Error) => this.log.add('call', `no token for the media peer: ${error.message}`, 'bad'),
    );
  }

  /** PeerJS options with a fresh token for `peerId`, when the server wants tokens. */
  private async optionsFor(peerId: string): Promise<PeerOptions> {
    if (!this.token) return this.peerOptions;
    // PeerJS writes the token into the WebSocket URL as it is.
    return { ...this.peerOptions, token: encodeURIComponent(await this.token(peerId)) };
  }

  private registerWith(userId: string, options: PeerOptions): void {
    const peer = new Peer(mediaPeerId(userId), options);
    this.peer = peer;
    peer.on('open', (id) => {
      this.heldElsewhereSaid = false;
      this.log.add('call', `media peer ${id} registered`);
    });
    peer.on('call', (connection) => this.answer(connection));
    peer.on('error', (error) => this.onPeerError(error));
    // 'disconnected' alone: the server connection dropped, try it again. 'close' follows when the
    // Peer was destroyed instead (the id still held after a reload): register a new one.
    peer.on('disconnected', () =>
      this.retry(peer, () => {
        if (!peer.disconnected || peer.destroyed) return;
        // reconnect() reuses the Peer's token, which may have expired: with tokens, a new Peer asks for a fresh one.
        if (this.token) peer.destroy();
        else peer.reconnect();
      }),
    );
    peer.on('close', () => this.retry(peer, () => this.register(userId)));
  }

  /** Runs `again` a little later if `peer` is still ours by then (close() gives it up). */
  private retry(peer: Peer, again: () => void): void {
    if (this.peer !== peer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.peer === peer) again();
    }, RETRY_MS);
  }

  private onPeerError(error: PeerError<string>): void {
    // Another tab of this user (or this one before a reload) holds it: it takes the calls; this tab takes over when it goes.
    if (error.type === 'unavailable-id') {
      if (!this.heldElsewhereSaid) this.log.add('call', 'media peer held by another tab of this user: calls are placed and answered there');
      this.heldElsewhereSaid = true;
      return;
    }
    this.log.add('call', `media peer: ${error.type}${error.message ? `: ${error.message}` : ''}`, 'bad');
    // A call to an id no one holds fails here, on the Peer, and never on the call itself.
    const call = this.call;
    if (error.type === 'peer-unavailable' && call && !call.connected) {
      this.end(call, `${call.other} has no media peer (offline, or on the script-tag page); call ended`, 'bad');
    }
  }

  private answer(connection: MediaConnection): void {
    const inviter = [...this.expected.keys()].find((id) => mediaPeerId(id) === connection.peer);
    const type = inviter === undefined ? undefined : this.expected.get(inviter);
    if (inviter === undefined || type === undefined) {
      this.log.add('call', `did not answer a call from ${connection.peer}: you accepted no invitation from them`, 'bad');
      connection.close();
      return;
    }
    this.expected.delete(inviter);
    if (this.call) this.end(this.call, `call with ${this.call.other} ended: you accepted a call from ${inviter}`);
    const call = this.begin(inviter, type, `Answering ${inviter}…`);
    this.watch(call, connection);
    void this.run(call, async () => {
      const local = await this.localStream(call);
      if (!local) return;
      connection.answer(local);
      this.log.add('call', `answered ${inviter} (${callTypeLabel(type)})`);
    });
  }

  private begin(other: string, type: number, status: string): Call {
    const call: Call = { other, type, connected: false };
    this.call = call;
    this.panel.open(other, type === 1, status);
    return call;
  }

  /** Runs the asynchronous steps of a call; whatever they throw ends it, in the log. */
  private async run(call: Call, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (error) {
      this.end(call, `call with ${call.other} failed: ${describe(error)}`, 'bad');
    }
  }

  /** Asks for the microphone, and the camera for a video call. Undefined when refused, or when the call ended meanwhile. */
  private async localStream(call: Call): Promise<MediaStream | undefined> {
    const video = call.type === 1;
    let stream: MediaStream;
    try {
      // Missing outside a secure context (https, or http on localhost / 127.0.0.1).
      if (!navigator.mediaDevices) throw new DOMException('getUserMedia needs https or localhost', 'NotSupportedError');
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    } catch (error) {
      this.log.add('getUserMedia', `no ${video ? 'camera or microphone' : 'microphone'}: ${describe(error)}`, 'bad');
      this.end(call, `no call with ${call.other}; the invitation stays answered`, 'bad');
      return undefined;
    }
    if (this.call !== call) {
      stopTracks(stream);
      return undefined;
    }
    call.local = stream;
    this.panel.showLocal(stream);
    return stream;
  }

  private watch(call: Call, connection: MediaConnection): void {
    call.connection = connection;
    call.timer = setTimeout(() => this.end(call, `no media from ${call.other} within ${CONNECT_TIMEOUT_MS / 1000} s; call ended`, 'bad'), CONNECT_TIMEOUT_MS);
    // Once per track, with the same stream.
    connection.on('stream', (remote) => {
      if (this.call !== call) return;
      this.panel.showRemote(remote);
      if (call.connected) return;
      call.connected = true;
      clearTimeout(call.timer);
      this.panel.status(`In a ${callTypeLabel(call.type)} call with ${call.other}`);
      this.log.add('call', `connected with ${call.other}`, 'good');
    });
    connection.on('close', () => this.end(call, `${call.other} hung up`));
    connection.on('error', (error) => this.log.add('call', `${call.other}: ${error.type}${error.message ? `: ${error.message}` : ''}`, 'bad'));
  }

  /** The one way a call ends (Hang up, the other side's close, a failure, a newer call): closes it and stops our tracks. */
  private end(call: Call, reason: string, tone: 'info' | 'bad' = 'info'): void {
    if (this.call !== call) return;
    this.call = undefined;
    clearTimeout(call.timer);
    call.connection?.close();
    if (call.local) stopTracks(call.local);
    this.panel.close();
    this.log.add('call', reason, tone);
  }
}

function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}
