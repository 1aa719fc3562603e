// Attacks on the companion server by registered clients (each attacker holds a valid token for
// its own id), each bounded in count and time, each beside an honest client that must still be
// served. Run against one server (hostile.test.mjs) and a two-node cluster (cluster-hostile.test.mjs):
// `net` says where each role registers (`attacker`, `victim`: ports) and which server pids to read.
import assert from 'node:assert/strict';
import { connectClient, rssMiB, scrape, within } from './raw-client.mjs';

const MiB = 2 ** 20;
const offer = (dst, connectionId, sdp = 'v=0') => ({ type: 'OFFER', dst, payload: { type: 'data', connectionId, sdp: { type: 'offer', sdp } } });
const candidate = (dst, connectionId, text) => ({ type: 'CANDIDATE', dst, payload: { type: 'data', connectionId, candidate: { candidate: text } } });

function roles(net) {
  const connect = (role, id) => connectClient({ port: net[role], id, token: net.token(id), clients: net.clients });
  const registered = async (role, id) => {
    const client = await connect(role, id);
    assert.deepEqual(client.first, { type: 'OPEN' }, `${id} registers`);
    return client;
  };
  return { connect, registered };
}

/**
 * The servers' memory together, in MiB, after a full GC in each: `rss` from /proc (it keeps what
 * malloc freed but did not give back, so it is logged), `live` the JS heap and buffers still
 * held (asserted: what an attack made the server keep).
 */
async function memory(net) {
  await Promise.all(net.servers.map((server) => server.collectGarbage()));
  const readings = await Promise.all(net.servers.map((server) => server.memory()));
  return {
    rss: net.servers.reduce((sum, server) => sum + rssMiB(server.pid), 0),
    live: readings.reduce((sum, { memory: { heapUsed, external } }) => sum + (heapUsed + external) / MiB, 0),
  };
}

/** Logs how the servers' memory grew since `before`; returns the growth of what they hold live. */
async function grownSince(net, before, log, when = '') {
  const after = await memory(net);
  log(`server memory grew${when}: RSS ${(after.rss - before.rss).toFixed(1)} MiB (${before.rss.toFixed(1)} → ${after.rss.toFixed(1)}), live heap and buffers ${(after.live - before.live).toFixed(1)} MiB`);
  return after.live - before.live;
}

/** An honest OFFER → ANSWER round trip between two clients registered on the attacker's and the victim's servers; its time goes to the log. */
async function honestRoundTrip(net, from, to, tag, log) {
  const began = performance.now();
  from.send(offer(to.id, tag));
  const got = await to.seen((message) => message.type === 'OFFER' && message.payload?.connectionId === tag);
  assert.equal(got.src, from.id);
  to.send({ type: 'ANSWER', dst: from.id, payload: { type: 'data', connectionId: tag, sdp: { type: 'answer', sdp: 'v=0' } } });
  await from.seen((message) => message.type === 'ANSWER' && message.payload?.connectionId === tag);
  log(`honest OFFER→ANSWER round trip (${tag}): ${(performance.now() - began).toFixed(1)} ms`);
}

/** One frame of 16 MiB: refused as it starts (the socket closed), relayed to nobody, costing the server no memory. */
export async function oversizeFrame(net, log) {
  const { registered } = roles(net);
  const victim = await registered('victim', 'victim-f');
  const alice = await registered('attacker', 'alice-f');
  const mallory = await registered('attacker', 'mallory-f');
  mallory.socket.on('error', () => {});
  const before = await memory(net);
  mallory.send(offer('victim-f', 'huge', 'a'.repeat(16 * MiB)));
  await honestRoundTrip(net, alice, victim, 'during-frame', log);
  await within(20_000, 'the attacker closed by the server', mallory.closed);
  await honestRoundTrip(net, alice, victim, 'after-frame', log);
  assert.equal(victim.received.filter((message) => message.src === 'mallory-f').length, 0, 'nothing of the frame reached the victim');
  const grown = await grownSince(net, before, log);
  assert.ok(grown < 8, `the servers hold ${grown.toFixed(1)} MiB more`);
}

/** 5,000 OFFERs at once to one victim: a burst gets through, the rest is dropped, the sender is cut off and cannot register again. */
export async function offerFlood(net, log) {
  const { registered, connect } = roles(net);
  const victim = await registered('victim', 'victim-r');
  const alice = await registered('attacker', 'alice-r');
  const mallory = await registered('attacker', 'mallory-r');
  for (let n = 0; n < 5000; n++) mallory.send(offer('victim-r', `flood-${n}`));
  await honestRoundTrip(net, alice, victim, 'during-flood', log);
  await within(20_000, 'the flooder cut off', mallory.closed);
  const again = await connect('attacker', 'mallory-r');
  assert.equal(again.first.type, 'ERROR');
  assert.match(again.first.payload.msg, /^RATE_LIMITED/);
  await honestRoundTrip(net, alice, victim, 'after-flood', log);
  const through = victim.received.filter((message) => message.src === 'mallory-r').length;
  log(`flood: ${through} of 5000 OFFERs reached the victim`);
  assert.ok(through > 0 && through < 1000, `${through} of 5000 OFFERs reached the victim`);
}

/**
 * Attackers park 8 KB messages for 500 ids that never register, 4,750 in all (37 MiB): the mailbox
 * stays within its quotas (the server's `limits.mailbox.total.bytes` is `totalBytes`), refusals are
 * told with EXPIRE, and what an honest client parked before is still delivered.
 */
export async function mailboxFlood(net, log, { totalBytes }) {
  const { registered } = roles(net);
  const alice = await registered('attacker', 'alice-m');
  const bob = await registered('victim', 'bob-m');
  alice.send(offer('carol-m', 'parked-before'));
  await honestRoundTrip(net, alice, bob, 'before-mailbox', log);
  const before = await memory(net);
  const attackers = [];
  for (let a = 0; a < 5; a++) attackers.push(await registered('attacker', `mallory-m${a}`));
  const filler = 'c'.repeat(8000);
  for (const [a, attacker] of attackers.entries()) {
    for (let n = 0; n < 950; n++) {
      const dst = `nobody-${(a * 950 + n) % 500}`;
      attacker.send(n < 150 ? offer(dst, `m${n}`, filler) : candidate(dst, `m${n % 150}`, filler));
    }
  }
  const refused = await attackers[0].next('EXPIRE');
  assert.match(refused.src, /^nobody-/);
  await honestRoundTrip(net, alice, bob, 'during-mailbox', log);
  // Every attacker's frames handled: its last one is followed by a marker that arrives.
  for (const attacker of attackers) attacker.send(offer('bob-m', `done-${attacker.id}`));
  for (const attacker of attackers) await bob.seen((message) => message.payload?.connectionId === `done-${attacker.id}`);
  const metrics = await Promise.all(net.ports.map((port) => scrape(port, net.metricsToken)));
  const parkedBytes = metrics.reduce((sum, values) => sum + values.peer_invitation_mailbox_bytes, 0);
  const full = metrics.reduce((sum, values) => sum + (values['peer_invitation_refusals_total{reason="mailbox_full"}'] ?? 0), 0);
  log(`mailbox: ${(parkedBytes / MiB).toFixed(1)} MiB parked, ${full} parkings refused`);
  assert.ok(parkedBytes <= totalBytes, `${parkedBytes} bytes parked`);
  assert.ok(full > 0);
  const grown = await grownSince(net, before, log);
  assert.ok(grown < 8 + (2 * totalBytes) / MiB, `the servers hold ${grown.toFixed(1)} MiB more`);
  const carol = await registered('victim', 'carol-m');
  const kept = await carol.seen((message) => message.type === 'OFFER');
  assert.equal(kept.payload.connectionId, 'parked-before');
}

/** A client that stops reading while another sends it 69 MB: closed once its send buffer passes the bound, not buffered. */
export async function slowReader(net, log) {
  const { registered } = roles(net);
  const reader = await registered('victim', 'slow-s');
  reader.socket._socket.pause();
  const alice = await registered('attacker', 'alice-s');
  const bob = await registered('victim', 'bob-s');
  const mallory = await registered('attacker', 'mallory-s');
  const before = await memory(net);
  const filler = 's'.repeat(60_000);
  for (let n = 0; n < 1150; n++) mallory.send(n < 150 ? offer('slow-s', `s${n}`, filler) : candidate('slow-s', `s${n % 150}`, filler));
  await honestRoundTrip(net, alice, bob, 'during-slow-reader', log);
  // All of it handed to the server: its last frame is followed by a marker that arrives.
  mallory.send(offer('bob-s', 'sent-all'));
  await bob.seen((message) => message.payload?.connectionId === 'sent-all');
  // What is still on its way to the reader's server (across Redis, in a cluster) may be held for a
  // moment after the marker arrived: wait until the servers let it go, while the reader still does not read.
  let grown = await grownSince(net, before, log, ' while the reader did not read');
  for (const giveUp = performance.now() + 20_000; grown >= 16 && performance.now() < giveUp; ) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    grown = await grownSince(net, before, log, ' while the reader did not read');
  }
  reader.socket._socket.resume();
  await within(30_000, 'the slow reader closed by the server', reader.closed);
  log(`slow reader: got ${reader.received.length} of 1150 before it was closed`);
  assert.ok(reader.received.length < 1150);
  assert.ok(grown < 16, `the servers held ${grown.toFixed(1)} MiB more`);
}

/** 1,000 handshakes from one address, 200 at a time, without a valid token: beyond the burst, HTTP 429; a client from another address registers. */
export async function handshakeFlood(net, log) {
  const { registered } = roles(net);
  const alice = await registered('attacker', 'alice-h');
  const bob = await registered('victim', 'bob-h');
  let tooMany = 0;
  let next = 0;
  const worker = async () => {
    while (next < 1000) {
      next++;
      const client = await connectClient({ port: net.attacker, id: `forged-${next}`, token: 'forged', clients: net.clients });
      if (client.first.type === 'HTTP' && client.first.status === 429) tooMany++;
      client.socket.terminate();
    }
  };
  const flood = Promise.all(Array.from({ length: 200 }, worker));
  await honestRoundTrip(net, alice, bob, 'during-handshakes', log);
  const other = await connectClient({ port: net.attacker, id: 'dora-h', token: net.token('dora-h'), localAddress: '127.0.0.2', clients: net.clients });
  assert.deepEqual(other.first, { type: 'OPEN' });
  await within(60_000, 'the handshake flood', flood);
  log(`handshakes: ${tooMany} of 1000 refused with 429`);
  assert.ok(tooMany > 0);
}
