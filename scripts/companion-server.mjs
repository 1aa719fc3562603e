// The companion PeerServer (dist/server/, from `npm run build`) as a child process, for
// the tests, `npm start` and the benchmark: started by scripts/companion-server-process.mjs.
//   argv[2]: JSON of startPeerServer's options (no secret, no functions)
//   PEER_INVITATION_SECRET: the token secret, if any
//   COMPANION_VERIFY_MODULE: a module whose `verify` export is the app's own check, if any
// Reports { ready: port } or { error } over IPC; `memory` messages are answered with process.memoryUsage(),
// `gc` ones (with --expose-gc) with a full collection and { collected: true }.
import { pathToFileURL } from 'node:url';
import { startPeerServer } from '../dist/server/index.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const secret = process.env.PEER_INVITATION_SECRET || undefined;
const verifyModule = process.env.COMPANION_VERIFY_MODULE;
const verify = verifyModule ? (await import(pathToFileURL(verifyModule).href)).verify : undefined;

try {
  const server = await startPeerServer({ ...options, secret, verify });
  process.send({ ready: server.port });
  process.on('message', (message) => {
    if (message === 'memory') process.send({ memory: process.memoryUsage(), cpu: process.cpuUsage() });
    if (message === 'gc') {
      globalThis.gc?.();
      process.send({ collected: true });
    }
  });
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  // Go when the parent goes, even if it crashed without stopping us.
  process.once('disconnect', stop);
} catch (error) {
  process.send({ error: error.code === 'EADDRINUSE' ? `port ${options.port} is taken` : String(error) });
  process.exit(1);
}
