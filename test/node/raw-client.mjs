// Raw WebSocket clients speaking the PeerServer protocol (no PeerJS, no plugin), for the Node
// tests: every wait has a deadline that fails loudly, and every client is closed by `closeAll`.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

/** Fails after `ms` with `what` in the message, unless `promise` settles first. */
export function within(ms, what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A client: `first` is the server's first message (OPEN, ERROR, ID-TAKEN), or `{ type: 'HTTP', status }`
 * when the upgrade was refused. `next(type)` resolves with its next message of that type; `received`
 * holds every later message; `closed` resolves with the close code.
 */
export function connectClient({ port, id, token, path = '/peerjs', localAddress, clients }) {
  return new Promise((resolve, reject) => {
    const url = `ws://127.0.0.1:${port}${path}/peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=${encodeURIComponent(token ?? 'none')}`;
    const socket = new WebSocket(url, { perMessageDeflate: false, localAddress });
    clients?.add(socket);
    const received = [];
    const waiters = [];
    let first;
    const closed = new Promise((done) => socket.once('close', (code) => done(code)));
    const settle = () => {
      for (const waiter of [...waiters]) {
        const index = received.findIndex((message, at) => at >= waiter.from && waiter.matches(message));
        if (index < 0) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(received[index]);
      }
    };
    const client = {
      id,
      socket,
      received,
      closed,
      get first() {
        return first;
      },
      /** The next message (from now on) matching `type` (a string) or a predicate. */
      next(type, ms = 15_000) {
        const matches = typeof type === 'function' ? type : (message) => message.type === type;
        const from = received.length;
        return within(ms, `${id} waiting for ${typeof type === 'string' ? type : 'a message'}`, new Promise((done) => {
          waiters.push({ matches, from, resolve: done });
          settle();
        }));
      },
      /** A message (already received, or the next one) matching `predicate`. */
      seen(predicate, ms = 15_000) {
        const found = received.find(predicate);
        if (found) return Promise.resolve(found);
        return client.next(predicate, ms);
      },
      send(message) {
        socket.send(typeof message === 'string' ? message : JSON.stringify(message));
      },
    };
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (first === undefined) {
        first = message;
        resolve(client);
        return;
      }
      received.push(message);
      settle();
    });
    socket.once('unexpected-response', (_, response) => {
      first = { type: 'HTTP', status: response.statusCode };
      response.resume();
      socket.terminate();
      resolve(client);
    });
    socket.on('error', (error) => {
      if (first === undefined) reject(error);
    });
  });
}

/** The resident set size of process `pid`, in MiB, read from /proc. */
export function rssMiB(pid) {
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

/** The server's metrics as { 'name{labels}': value }, with the metrics token. */
export async function scrape(port, metricsToken, path = '/peerjs') {
  const response = await fetch(`http://127.0.0.1:${port}${path}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  if (!response.ok) throw new Error(`metrics: HTTP ${response.status}`);
  const values = {};
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return values;
}

export function closeAll(clients) {
  for (const socket of clients) socket.terminate();
  clients.clear();
}
