// PeerServer-protocol clients for the push tests: what a PeerJS client (and the plugin) sends.
import WebSocket from 'ws';

/** Registers `id`; resolves `{ first, socket, next(test), sent(frame), close() }` once the server's first message came. */
export function connect(port, id, token, path = '/peerjs') {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}/peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`);
    const messages = [];
    let waiters = [];
    const client = {
      socket,
      messages,
      send: (frame) => socket.send(JSON.stringify(frame)),
      /** The first message (already received or to come) that `test` accepts. */
      next(test = () => true, timeoutMs = 10_000) {
        const seen = messages.find(test);
        if (seen) return Promise.resolve(seen);
        return new Promise((done, fail) => {
          const waiter = { test, done };
          waiters.push(waiter);
          setTimeout(() => {
            waiters = waiters.filter((other) => other !== waiter);
            fail(new Error(`${id}: no such message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
          }, timeoutMs).unref();
        });
      },
      /** Closes and resolves once the socket is closed. */
      close: () =>
        new Promise((done) => {
          if (socket.readyState === WebSocket.CLOSED) return done();
          socket.once('close', () => done());
          socket.close();
        }),
    };
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (!client.first) {
        client.first = message;
        resolve(client);
        return;
      }
      messages.push(message);
      const ready = waiters.filter((waiter) => waiter.test(message));
      waiters = waiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.done(message);
    });
    socket.once('error', reject);
  });
}

let counter = 0;

/** An invite as the plugin writes it (PROTOCOL.md), for the OFFER's metadata. */
export function invite(inviterID, { remainingMs = 30_000, notification = { title: 'Call', message: 'Join room 7' }, ...rest } = {}) {
  return { v: 2, kind: 'invite', invitationID: `${inviterID}:${++counter}-${Math.random().toString(36).slice(2)}`, inviterName: 'Alice A.', type: 1, data: 'secret room 7', remainingMs, ...(notification ? { notification } : {}), ...rest };
}

/** The OFFER PeerJS sends for `peer.connect(dst, { metadata: { peerInvitation: messages } })`. */
export function offer(dst, messages, connectionId = `dc_${Math.random().toString(36).slice(2)}`) {
  return { type: 'OFFER', dst, payload: { sdp: { type: 'offer', sdp: 'v=0' }, type: 'data', connectionId, label: connectionId, reliable: true, serialization: 'json', metadata: { peerInvitation: messages } } };
}
