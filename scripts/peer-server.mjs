// A local PeerServer, run as its own process: PeerServer has no stop API and
// its timers keep Node alive, so whoever needs one spawns this and kills it.
//   node scripts/peer-server.mjs [port]   (env: PEER_HOST, PEER_PATH, PEER_ALIVE_TIMEOUT_MS, PEER_EXPIRE_TIMEOUT_MS)
import { PeerServer } from 'peer';

const port = Number(process.argv[2] ?? process.env.PEER_PORT ?? 9000);
const host = process.env.PEER_HOST ?? '127.0.0.1';
const server = PeerServer(
  {
    host,
    port,
    path: process.env.PEER_PATH ?? '/peerjs',
    // At least 3 times PeerJS's 5 s ping, so live clients are never dropped; far below the 90 s default,
    // so an id whose tab crashed is free again soon.
    alive_timeout: Number(process.env.PEER_ALIVE_TIMEOUT_MS ?? 16_000),
    expire_timeout: Number(process.env.PEER_EXPIRE_TIMEOUT_MS ?? 5000),
  },
  () => process.send ? process.send({ ready: port }) : console.log(`PeerServer listening on http://${host}:${port}/peerjs`),
);
// Started by a parent over IPC: go when the parent goes, even if it crashed without killing us.
process.on('disconnect', () => process.exit(0));
server.on('error', (error) => {
  const message = error.code === 'EADDRINUSE' ? `port ${port} is taken (set PEER_PORT to another)` : String(error);
  process.send ? process.send({ error: message }) : console.error(`PeerServer: ${message}`);
  process.exit(1);
});
