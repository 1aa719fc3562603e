/**
 * The built files as apps load them: dist/peer-invitation.js by a module import
 * (the test server resolves its bare imports, as an app's bundler would), and
 * dist/peer-invitation.iife.js from a plain script tag on a page of its own.
 * `npm test` builds dist/ first.
 */
import { expect } from '@esm-bundle/chai';
import * as sources from '../src/index.js';
import type { DeliveryOptions, PeerServerOptions } from '../src/index.js';
import { FAST_DELIVERY, peerOptions, uniqueId } from './helpers.js';
import { Tab } from './demo-support/tabs.js';

type Library = typeof sources;

const ES_BUILD = '/dist/peer-invitation.js';

/** A variable, so TypeScript leaves this runtime URL alone. */
function importBuild(): Promise<Library> {
  return import(ES_BUILD) as Promise<Library>;
}

interface Scenario {
  peer: PeerServerOptions;
  delivery: DeliveryOptions;
  aliceId: string;
  bobId: string;
}

/**
 * Alice invites Bob and Bob accepts, both plugins from `library`. Self-contained,
 * so that it can also run inside the script-tag page (as source text).
 */
async function inviteAndAccept(library: Library, { peer, delivery, aliceId, bobId }: Scenario) {
  const alice = library.createSignalingPlugin({ peer, delivery, storage: 'memory' });
  const bob = library.createSignalingPlugin({ peer, delivery, storage: 'memory' });
  const first = <T>(source: { subscribe(next: (value: T) => void): unknown }) => new Promise<T>((resolve) => source.subscribe(resolve));
  try {
    await Promise.all([alice.connectUser({ id: aliceId, name: 'Alice' }), bob.connectUser({ id: bobId, name: 'Bob' })]);
    const received = first(bob.invitationReceived$);
    const accepted = first(alice.invitationAccepted$);
    const sent = await alice.sendInvitation({ inviterName: 'Alice', invitees: [bobId], timeout: 20, type: 1, data: 'hi' });
    const invitation = await received;
    const answer = await bob.acceptInvitation({ invitationID: invitation.invitationID });
    return { sent: sent.invitationID, sendError: sent.error?.code, received: invitation.invitationID, answerError: answer.error?.code, accepted: await accepted };
  } finally {
    await Promise.all([alice.dispose(), bob.dispose()]);
  }
}

async function scenario(): Promise<Scenario> {
  return { peer: await peerOptions(), delivery: FAST_DELIVERY, aliceId: uniqueId('alice'), bobId: uniqueId('bob') };
}

function expectAccepted(result: Awaited<ReturnType<typeof inviteAndAccept>>, { bobId }: Scenario): void {
  expect(result.sendError).to.equal(undefined);
  expect(result.answerError).to.equal(undefined);
  expect(result.received).to.equal(result.sent);
  expect(result.accepted).to.deep.equal({ invitationID: result.sent, invitee: bobId, data: '' });
}

describe('ES module build', () => {
  it('imports cleanly, with the same exports as the sources', async () => {
    const built = await importBuild();
    expect(Object.keys(built).sort()).to.deep.equal(Object.keys(sources).sort());
    expect(built.createSignalingPlugin).to.be.a('function');
    expect(built.PROTOCOL_VERSION).to.equal(sources.PROTOCOL_VERSION);
  });

  it('leaves peerjs, rxjs and idb to be resolved by the app', async () => {
    // As served here, the bare imports are rewritten to node_modules paths: one per dependency, none bundled in.
    const code = await (await fetch(ES_BUILD)).text();
    for (const dependency of ['peerjs', 'rxjs', 'idb']) expect(code).to.match(new RegExp(`from "[./]*node_modules/${dependency}/`));
    expect(code).not.to.match(/node_modules\/(?!peerjs\/|rxjs\/|idb\/)/);
  });

  it('connects, invites and accepts over a real data channel', async () => {
    const built = await importBuild();
    const setup = await scenario();
    expectAccepted(await inviteAndAccept(built, setup), setup);
  });

  it('reports its errors as its own InvitationError', async () => {
    const built = await importBuild();
    const plugin = built.createSignalingPlugin({ peer: await peerOptions(), storage: 'memory' });
    const result = await plugin.sendInvitation({ inviterName: 'A', invitees: ['b'], timeout: 5, type: 0, data: '' });
    expect(result.error?.code).to.equal('NOT_CONNECTED');
    expect(built.isInvitationError(result.error)).to.equal(true);
    await plugin.dispose();
  });
});

describe('script-tag build', () => {
  let tab: Tab | undefined;
  afterEach(async () => {
    await tab?.close();
    tab = undefined;
  });

  it('defines only the global PeerInvitation, whose plugins connect, invite and accept', async () => {
    tab = await Tab.open('/test/demo-support/iife.html');
    expect(await tab.evaluate('typeof PeerInvitation.createSignalingPlugin')).to.equal('function');
    expect(await tab.evaluate('Object.keys(PeerInvitation).sort().join()')).to.equal(Object.keys(sources).sort().join());
    // Its dependencies stay inside the bundle's scope.
    expect(await tab.evaluate('typeof Peer + typeof rxjs + typeof idb')).to.equal('undefinedundefinedundefined');

    const setup = await scenario();
    const result = await tab.evaluate<Awaited<ReturnType<typeof inviteAndAccept>>>(`(${inviteAndAccept.toString()})(PeerInvitation, ${JSON.stringify(setup)})`);
    expectAccepted(result, setup);
    expect(await tab.errors()).to.deep.equal([]);
  });
  // The bundle leaves BinaryPack out (src/iife/no-binarypack.ts): a peer that opens a binary
  // connection anyway, with the official PeerJS build, is refused and reported, and nothing breaks.
  it('refuses a binary connection from the official PeerJS build, with BinaryPack left out', async () => {
    tab = await Tab.open('/test/demo-support/iife.html');
    const setup = await scenario();
    const outcome = await tab.evaluate<{ violation: boolean; rings: number; closed: boolean; open: number }>(`(async () => {
      await new Promise((resolve, reject) => {
        const script = Object.assign(document.createElement('script'), { src: '/node_modules/peerjs/dist/peerjs.min.js', onload: resolve, onerror: reject });
        document.head.append(script);
      });
      const setup = ${JSON.stringify(setup)};
      const victim = PeerInvitation.createSignalingPlugin({ peer: setup.peer, delivery: setup.delivery, storage: 'memory' });
      const rogue = new peerjs.Peer(setup.aliceId, setup.peer);
      const within = (promise, ms) => Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve('timeout'), ms))]);
      try {
        await victim.connectUser({ id: setup.bobId, name: 'Victim' });
        await within(new Promise((resolve) => rogue.on('open', resolve)), 5000);
        let rings = 0;
        victim.invitationReceived$.subscribe(() => rings++);
        const violation = within(new Promise((resolve) => victim.errors$.subscribe((error) => error.code === 'PROTOCOL_VIOLATION' && resolve(true))), 8000);
        const connection = rogue.connect(setup.bobId, { reliable: true, serialization: 'binary' });
        connection.on('open', () => connection.send({ v: 2, kind: 'invite', invitationID: setup.aliceId + ':binary', inviterName: 'Rogue', type: 0, data: '', remainingMs: 60000 }));
        const closed = within(new Promise((resolve) => connection.on('close', () => resolve(true))), 4000);
        const reported = (await violation) === true;
        // Closed, or never opened on this side (then it has nothing to close).
        const shut = (await closed) === true || !connection.open;
        return { violation: reported, closed: shut, rings, open: victim.stats().openConnections };
      } finally {
        rogue.destroy();
        await victim.dispose();
      }
    })()`);
    expect(outcome).to.deep.equal({ violation: true, closed: true, rings: 0, open: 0 });
    expect(await tab.errors()).to.deep.equal([]);
  });
});
