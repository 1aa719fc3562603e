/**
 * What README documents that no other test exercised (issue #16 item 8), end to end:
 * real PeerServer, real WebRTC, real IndexedDB, in Chromium and in Firefox.
 */
import { expect } from '@esm-bundle/chai';
import { Peer, type MediaConnection } from 'peerjs';
import { PROTOCOL_VERSION, type InvitationError } from '../src/index.js';
import { Harness, next, peerOptions, peerServer, record, uniqueId, waitUntil } from './helpers.js';

const invite = (invitees: string[], data = '') => ({ inviterName: 'A', invitees, timeout: 30, type: 0, data });

/** The query of every PeerServer WebSocket this page opens for `id` while `run` runs. */
async function socketQueries(id: string, run: () => Promise<void>): Promise<URLSearchParams[]> {
  const original = window.WebSocket;
  const seen: URLSearchParams[] = [];
  window.WebSocket = class extends original {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      const query = new URL(String(url)).searchParams;
      if (query.get('id') === id) seen.push(query);
    }
  };
  try {
    await run();
  } finally {
    window.WebSocket = original;
  }
  return seen;
}

describe('documented: the PeerServer lost', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('a failed reconnect is reported on errors$ as SERVER_UNREACHABLE, and the plugin comes back once the server does', async () => {
    // One registration may take 1 s, and the backoff back to the server stays under 500 ms.
    const { plugin } = await harness.user('lost', { delivery: { reconnectTimeoutMs: 1000, reconnectMaxDelayMs: 500 } });
    const errors = record(plugin.errors$);
    const reconnecting = next(plugin.connectionState$, (state) => state === 'reconnecting', 20_000);
    let stopped = false;
    try {
      stopped = true;
      await peerServer('stop');
      await reconnecting;
      // Several attempts fail while the server is away (each one reported).
      await waitUntil(() => errors.values.filter((error) => error.code === 'SERVER_UNREACHABLE').length >= 2, 'two failed reconnects reported', 20_000);
    } finally {
      if (stopped) await peerServer('start');
    }
    await next(plugin.connectionState$, (state) => state === 'connected', 20_000);
    expect([...new Set(errors.values.map((error) => error.code))]).to.deep.equal(['SERVER_UNREACHABLE']);
  });
});

describe('documented: options', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('`token` takes precedence over `peer.token`', async () => {
    const id = uniqueId('token');
    const databaseName = `test:${id}`;
    harness.track(databaseName);
    const plugin = await harness.plugin({ databaseName, peer: { ...(await peerOptions()), token: 'from-peer-options' }, token: 'from-the-app' });
    const queries = await socketQueries(id, () => plugin.connectUser({ id, name: 'T' }));
    expect(queries.map((query) => query.get('token'))).to.deep.equal(['from-the-app']);
  });

  it('a createInvitationID that throws, or makes an id over 128 characters, makes sendInvitation resolve with APP_CALLBACK_FAILED', async () => {
    const throwing = await harness.user('throws', { createInvitationID: () => { throw new Error('no ids today'); } });
    const result = await throwing.plugin.sendInvitation(invite([uniqueId('nobody')]));
    expect(result.error?.code).to.equal('APP_CALLBACK_FAILED');
    expect(throwing.plugin.stats().invitations).to.equal(0);

    const long = await harness.user('long', { createInvitationID: () => 'x'.repeat(128) });
    const tooLong = await long.plugin.sendInvitation(invite([uniqueId('nobody')]));
    expect(`${long.id}:${'x'.repeat(128)}`.length).to.be.above(128);
    expect(tooLong.error?.code).to.equal('APP_CALLBACK_FAILED');
    expect(long.plugin.stats().invitations).to.equal(0);
  });
});

/** A stand-in for the platform's `Notification`, and `document.visibilityState`, until `restore()`. */
function fakeNotifications(permission: NotificationPermission, visibility: DocumentVisibilityState) {
  const shown: { title: string; body: string; tag: string; closed: boolean }[] = [];
  const original = Object.getOwnPropertyDescriptor(window, 'Notification');
  class FakeNotification {
    static permission = permission;
    readonly entry: (typeof shown)[number];
    constructor(title: string, options: NotificationOptions = {}) {
      this.entry = { title, body: options.body ?? '', tag: options.tag ?? '', closed: false };
      shown.push(this.entry);
    }
    close(): void {
      this.entry.closed = true;
    }
  }
  Object.defineProperty(window, 'Notification', { value: FakeNotification, configurable: true, writable: true });
  Object.defineProperty(document, 'visibilityState', { value: visibility, configurable: true });
  return {
    shown,
    restore() {
      if (original) Object.defineProperty(window, 'Notification', original);
      delete (document as { visibilityState?: unknown }).visibilityState;
    },
  };
}

describe('documented: the default notify', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());
  const notificationConfig = { resourceID: 'r', title: 'Call', message: 'about the budget', notifyWhenAppIsInTheBackgroundOrQuit: true };

  async function ringWith(permission: NotificationPermission, visibility: DocumentVisibilityState) {
    const fake = fakeNotifications(permission, visibility);
    try {
      const alice = await harness.user('alice', { notifyWhenAppIsInTheBackgroundOrQuit: true });
      const bob = await harness.user('bob');
      const rings = next(bob.plugin.invitationReceived$);
      const { invitationID } = await alice.plugin.sendInvitation({ ...invite([bob.id]), inviterName: 'Alice', notificationConfig });
      await rings;
      const refused = next(alice.plugin.invitationRefused$);
      await bob.plugin.refuseInvitation({ invitationID });
      await refused;
      return { shown: fake.shown, alice, invitationID };
    } finally {
      fake.restore();
    }
  }

  it('shows a Notification when the document is hidden and permission is granted, titled with the verified id, and closes it when the invitation ends', async () => {
    const { shown, alice, invitationID } = await ringWith('granted', 'hidden');
    expect(shown).to.deep.equal([{ title: `${alice.id} (Alice) is calling`, body: 'Call\nabout the budget', tag: invitationID, closed: true }]);
  });

  it('shows nothing while the document is visible', async () => {
    expect((await ringWith('granted', 'visible')).shown).to.deep.equal([]);
  });

  it('shows nothing when permission is denied', async () => {
    expect((await ringWith('denied', 'hidden')).shown).to.deep.equal([]);
  });
});

describe('documented: several tabs', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('invitationAnsweredElsewhere$ carries the answer and its data to the other tab', async () => {
    const caller = await harness.user('caller');
    const id = uniqueId('callee');
    const databaseName = `peer-invitation:${id}`;
    harness.track(databaseName);
    // Two plugins of one user in this page: two tabs of one profile (they share its locks, channel and database).
    const first = await harness.plugin({ databaseName });
    await first.connectUser({ id, name: 'Callee' });
    const second = await harness.plugin({ databaseName });
    await second.connectUser({ id, name: 'Callee' });
    const ringsFirst = next(first.invitationReceived$);
    const ringsSecond = next(second.invitationReceived$);
    const { invitationID } = await caller.plugin.sendInvitation(invite([id]));
    await Promise.all([ringsFirst, ringsSecond]);
    const elsewhere = next(first.invitationAnsweredElsewhere$);
    expect((await second.refuseInvitation({ invitationID, data: 'in a meeting' })).error).to.equal(undefined);
    expect(await elsewhere).to.deep.equal({ invitationID, answer: 'refuse', data: 'in a meeting' });
  });

  it('without BroadcastChannel a second tab of the user gets USER_ID_TAKEN, as without tab sharing', async () => {
    const original = Object.getOwnPropertyDescriptor(window, 'BroadcastChannel')!;
    Object.defineProperty(window, 'BroadcastChannel', { value: undefined, configurable: true, writable: true });
    try {
      const holder = await harness.user('holder');
      const second = await harness.plugin({ databaseName: `test:${holder.id}:second` });
      harness.track(`test:${holder.id}:second`);
      const error = await second.connectUser({ id: holder.id, name: 'again' }).catch((caught: InvitationError) => caught);
      expect((error as InvitationError).code).to.equal('USER_ID_TAKEN');
    } finally {
      Object.defineProperty(window, 'BroadcastChannel', original);
    }
    expect(typeof BroadcastChannel).to.equal('function');
  });
});

describe('documented: hostile peers', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('a media call is closed at once, reported once, and rings nothing', async () => {
    const victim = await harness.user('victim');
    const rogue = await harness.rawPeer('caller');
    const rings = record(victim.plugin.invitationReceived$);
    const reported = next(victim.plugin.errors$, (error) => error.code === 'PROTOCOL_VIOLATION' && error.message.includes(rogue.id));
    const canvas = document.createElement('canvas');
    const stream = canvas.captureStream();
    // An unanswered call never opens on the caller's side, so what shows the victim closed it is
    // that its Peer no longer holds the MediaConnection it was offered (victim and rogue share this
    // page and its PeerJS module, so the victim's 'call' event can be watched here).
    let offered: { peer: Peer; call: MediaConnection } | undefined;
    const emit = Peer.prototype.emit;
    Peer.prototype.emit = function (this: Peer, event: string, ...args: unknown[]) {
      if (event === 'call' && this !== rogue.peer) offered = { peer: this, call: args[0] as MediaConnection };
      return (emit as (this: Peer, event: string, ...args: unknown[]) => boolean).call(this, event, ...args);
    } as typeof emit;
    try {
      const call = rogue.peer.call(victim.id, stream);
      await reported;
      await waitUntil(() => offered !== undefined && offered.peer.getConnection(rogue.id, call.connectionId) === null, 'the victim closed the media call');
      expect(offered!.call.connectionId).to.equal(call.connectionId);
      expect(victim.plugin.stats().openConnections).to.equal(0);
      expect(rings.values).to.deep.equal([]);
    } finally {
      Peer.prototype.emit = emit;
      for (const track of stream.getTracks()) track.stop();
    }
  });

  it('a peer cut off for a cool-down is heard again once it ends', async () => {
    const victim = await harness.user('victim', { limits: { violationsBeforeCooldown: 3, cooldownMs: 2000 } });
    const rogueId = uniqueId('rogue');
    const rogue = new Peer(rogueId, await peerOptions());
    try {
      await new Promise<void>((resolve) => rogue.on('open', () => resolve()));
      const connect = () =>
        new Promise<ReturnType<Peer['connect']>>((resolve) => {
          const connection = rogue.connect(victim.id, { reliable: true, serialization: 'json' });
          connection.on('open', () => resolve(connection));
        });
      const first = await connect();
      const cutOff = new Promise<void>((resolve) => first.on('close', () => resolve()));
      for (let index = 0; index < 3; index += 1) first.send({ v: PROTOCOL_VERSION, kind: 'explode' });
      await cutOff;
      expect(victim.plugin.stats().bannedPeers).to.equal(1);
      await waitUntil(() => victim.plugin.stats().bannedPeers === 0, 'the cool-down ended');

      const rings = next(victim.plugin.invitationReceived$, (event) => event.inviter.id === rogueId, 20_000);
      const again = await connect();
      again.send({ v: PROTOCOL_VERSION, kind: 'invite', invitationID: `${rogueId}:after`, inviterName: 'Reformed', type: 0, data: '', remainingMs: 20_000 });
      expect((await rings).invitationID).to.equal(`${rogueId}:after`);
    } finally {
      rogue.destroy();
    }
  });
});
