/**
 * Authenticated ids against real companion PeerServer processes
 * (`peer-invitation/server`, started by the test runner's `companion-server`
 * command, which keeps the secrets in Node and signs tokens for the page).
 */
import { expect } from '@esm-bundle/chai';
import { Peer, type PeerError } from 'peerjs';
import { InvitationError, type SignalingPluginOptions } from '../src/index.js';
import { companion, peerOf, sign, startCompanion, stopCompanion, type Companion, type CompanionStart } from './companion.js';
import { Harness, next, record, uniqueId } from './helpers.js';

/** connectUser's rejection, or a failure if it resolved. */
async function refusal(connecting: Promise<void>): Promise<InvitationError> {
  try {
    await connecting;
  } catch (error) {
    expect(error).to.be.instanceOf(InvitationError);
    return error as InvitationError;
  }
  throw new Error('connectUser resolved; expected a refusal');
}

describe('authenticated ids (companion PeerServer)', function () {
  this.timeout(90_000);
  const harness = new Harness();
  const servers: Companion[] = [];
  const impostors: Peer[] = [];

  async function server(options: CompanionStart = {}): Promise<Companion> {
    const started = await startCompanion(options);
    servers.push(started);
    return started;
  }

  async function plugin(on: Companion, options: SignalingPluginOptions = {}) {
    const databaseName = `test:${uniqueId('auth-db')}`;
    harness.track(databaseName);
    // Real IndexedDB, under a name of its own; each plugin stands for a browser of its own (no tab sharing between them).
    return harness.plugin({ storage: 'indexeddb', tabs: false, databaseName, peer: peerOf(on), ...options });
  }

  afterEach(async () => {
    for (const impostor of impostors.splice(0)) impostor.destroy();
    await harness.cleanup();
    for (const server of servers.splice(0)) await stopCompanion(server);
  });

  it('refuses a client without a token: connectUser rejects with UNAUTHORIZED', async () => {
    const auth = await server({ secret: true });
    const alice = await plugin(auth);
    const error = await refusal(alice.connectUser({ id: uniqueId('alice'), name: 'Alice' }));
    expect(error.code).to.equal('UNAUTHORIZED');
    expect(alice.user).to.equal(undefined);
  });

  it('refuses a wrong, tampered, expired or other user\'s token, and accepts the right one', async () => {
    const auth = await server({ secret: true });
    const id = uniqueId('alice');
    const valid = await sign(auth, id);
    const lastChar = valid.at(-1) === 'A' ? 'B' : 'A';
    const tokens = {
      wrong: await sign(auth, id, { otherSecret: true }),
      tampered: valid.slice(0, -1) + lastChar,
      expired: await sign(auth, id, { expiresInSeconds: 60, now: Date.now() - 3_600_000 }),
      otherUser: await sign(auth, uniqueId('mallory')),
    };
    for (const [kind, token] of Object.entries(tokens)) {
      const attempt = await plugin(auth, { token });
      const error = await refusal(attempt.connectUser({ id, name: 'Alice' }));
      expect(error.code, kind).to.equal('UNAUTHORIZED');
    }
    const alice = await plugin(auth, { token: valid });
    await alice.connectUser({ id, name: 'Alice' });
    expect(alice.user?.id).to.equal(id);
  });

  it('asks a token function for each registration, and a failing one is UNAUTHORIZED', async () => {
    const auth = await server({ secret: true });
    const asked: string[] = [];
    const alice = await plugin(auth, { token: async (userId) => (asked.push(userId), sign(auth, userId)) });
    const id = uniqueId('alice');
    await alice.connectUser({ id, name: 'Alice' });
    expect(asked).to.deep.equal([id]);

    const broken = await plugin(auth, { token: () => Promise.reject(new Error('backend down')) });
    const error = await refusal(broken.connectUser({ id: uniqueId('bob'), name: 'Bob' }));
    expect(error.code).to.equal('UNAUTHORIZED');
    expect((error.cause as Error).message).to.equal('backend down');
  });

  it('keeps an offline user\'s id from an impostor, and delivers the queued invitation to the real user', async () => {
    // The server's 60 s mailbox and the plugin's default connect timeout, as in production.
    const auth = await server({ secret: true });
    const delivery = { connectTimeoutMs: 65_000 };
    const aliceId = uniqueId('alice');
    const bobId = uniqueId('bob');
    const alice = await plugin(auth, { token: (userId) => sign(auth, userId), delivery });
    await alice.connectUser({ id: aliceId, name: 'Alice' });

    const queued = next(alice.inviteeStateChanged$, (event) => event.invitee === bobId && event.state === 'queued');
    const { invitationID } = await alice.sendInvitation({ inviterName: 'Alice', invitees: [bobId], timeout: 60, type: 1, data: 'for Bob only' });
    await queued;
    // Alice's offer is parked at the server, waiting for bobId to register.
    const deadline = performance.now() + 10_000;
    while (alice.stats().connectAttempts === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alice.stats().connectAttempts).to.be.greaterThan(0);

    // An official PeerJS client claims Bob's id, with a forged token and with a valid token of its own user.
    const tokensOfImpostor = ['forged', await sign(auth, uniqueId('mallory'))];
    for (const token of tokensOfImpostor) {
      const impostor = new Peer(bobId, { ...peerOf(auth), token });
      impostors.push(impostor);
      const offers: string[] = [];
      impostor.on('connection', (connection) => offers.push(connection.peer));
      const failure = await new Promise<PeerError<string>>((resolve, reject) => {
        impostor.on('error', resolve);
        impostor.on('open', () => reject(new Error('the impostor registered Bob\'s id')));
      });
      expect(failure.type).to.equal('server-error');
      expect(failure.message).to.match(/^UNAUTHORIZED/);
      expect(offers).to.deep.equal([]);
    }

    const bob = await plugin(auth, { token: (userId) => sign(auth, userId), delivery });
    const received = next(bob.invitationReceived$, (event) => event.invitationID === invitationID, 20_000);
    const delivered = next(alice.inviteeStateChanged$, (event) => event.invitee === bobId && event.state === 'delivered', 20_000);
    await bob.connectUser({ id: bobId, name: 'Bob' });
    const invitation = await received;
    expect(invitation.inviter.id).to.equal(aliceId);
    expect(invitation.data).to.equal('for Bob only');
    await delivered;
  });

  it('reconnects after a server restart with a rotated secret, reporting UNAUTHORIZED and fetching fresh tokens', async () => {
    const auth = await server({ secret: true });
    let calls = 0;
    let refused = false;
    // After the restart, tokens are bad until the server has refused one: the plugin must report it and ask again.
    const token = (userId: string) => {
      calls += 1;
      return sign(auth, userId, { otherSecret: calls > 1 && !refused });
    };
    const bobId = uniqueId('bob');
    const bob = await plugin(auth, { token });
    await bob.connectUser({ id: bobId, name: 'Bob' });
    expect(calls).to.equal(1);

    const errors = record(bob.errors$);
    const firstRefusal = next(bob.errors$, (error) => error.code === 'UNAUTHORIZED', 30_000).then(() => {
      refused = true;
    });
    const reconnecting = next(bob.connectionState$, (state) => state === 'reconnecting');
    await companion({ action: 'restart', handle: auth.handle, rotateSecret: true });
    await reconnecting;
    await firstRefusal;
    const callsAtRefusal = calls;
    await next(bob.connectionState$, (state) => state === 'connected', 30_000);
    errors.stop();
    expect(errors.values.map((error) => error.code)).to.include('UNAUTHORIZED');
    // Connected with a token asked for after the refusal.
    expect(calls).to.be.greaterThan(callsAtRefusal);

    // Registered for real: an invitation reaches Bob through the restarted server.
    const alice = await plugin(auth, { token: (userId) => sign(auth, userId) });
    await alice.connectUser({ id: uniqueId('alice'), name: 'Alice' });
    const received = next(bob.invitationReceived$);
    await alice.sendInvitation({ inviterName: 'Alice', invitees: [bobId], timeout: 30, type: 0, data: 'after the restart' });
    expect((await received).data).to.equal('after the restart');
  });

  it('lets the app decide with `verify`', async () => {
    const appServer = await server({ verify: 'app' });
    const id = uniqueId('carol');
    const refused = await plugin(appServer, { token: `session-of-${uniqueId('dave')}` });
    expect((await refusal(refused.connectUser({ id, name: 'Carol' }))).code).to.equal('UNAUTHORIZED');
    const carol = await plugin(appServer, { token: (userId) => `session-of-${userId}` });
    await carol.connectUser({ id, name: 'Carol' });
    expect(carol.user?.id).to.equal(id);
  });

  it('works as an open server without secret or verify, as a plain PeerServer does', async () => {
    const open = await server();
    const alice = await plugin(open);
    const bob = await plugin(open);
    const bobId = uniqueId('bob');
    await alice.connectUser({ id: uniqueId('alice'), name: 'Alice' });
    await bob.connectUser({ id: bobId, name: 'Bob' });
    const received = next(bob.invitationReceived$);
    await alice.sendInvitation({ inviterName: 'Alice', invitees: [bobId], timeout: 30, type: 0, data: 'open' });
    expect((await received).data).to.equal('open');
  });
});
