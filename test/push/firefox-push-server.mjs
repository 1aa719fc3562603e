// Firefox's side of a push service: the WebSocket its push client keeps open
// (`dom.push.serverURL`; protocol read from Firefox's PushServiceWebSocket.sys.mjs, see
// BROWSER-TESTING.md item 24). `register` gets an endpoint on the HTTPS stand-in; each push
// the stand-in accepts for it goes to Firefox as a `notification`, and `acks` records Firefox's
// answer (code 100: decrypted and delivered to the service worker; 101: could not decrypt).
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';

export async function startFirefoxPushServer(service) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('push-notification') ? 'push-notification' : false) });
  await new Promise((resolve) => server.once('listening', resolve));
  let socket;
  let versions = 0;
  const acks = [];
  let waiters = [];
  const sentAt = new Map();
  server.on('connection', (connection) => {
    socket = connection;
    connection.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (Object.keys(message).length === 0) return connection.send('{}');
      if (message.messageType === 'hello') connection.send(JSON.stringify({ messageType: 'hello', uaid: message.uaid || randomUUID().replaceAll('-', ''), status: 200, use_webpush: true }));
      else if (message.messageType === 'register') connection.send(JSON.stringify({ messageType: 'register', channelID: message.channelID, status: 200, pushEndpoint: service.endpoint(message.channelID) }));
      else if (message.messageType === 'unregister') connection.send(JSON.stringify({ messageType: 'unregister', channelID: message.channelID, status: 200 }));
      else if (message.messageType === 'ack') {
        for (const update of message.updates ?? []) {
          const ack = { ...update, at: performance.now(), sentAt: sentAt.get(update.version) };
          acks.push(ack);
          const ready = waiters.filter((waiter) => waiter.test(ack));
          waiters = waiters.filter((waiter) => !ready.includes(waiter));
          for (const waiter of ready) waiter.resolve(ack);
        }
      }
    });
  });
  service.forward = (channelID, body) => {
    const version = `v${++versions}`;
    sentAt.set(version, performance.now());
    socket?.send(JSON.stringify({ messageType: 'notification', channelID, version, data: body.toString('base64url'), headers: { encoding: 'aes128gcm' } }));
  };
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    acks,
    /** Firefox's next ack that `test` accepts (already received or to come). */
    nextAck(test = () => true, timeoutMs = 15_000) {
      const seen = acks.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { test, resolve };
        waiters.push(waiter);
        setTimeout(() => reject(new Error(`no ack from Firefox within ${timeoutMs} ms (acks: ${JSON.stringify(acks)})`)), timeoutMs).unref();
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
