// Starts scripts/peer-server.mjs as a child process; used by the tests, `npm start` and the benchmark.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./peer-server.mjs', import.meta.url));

/** Resolves once the server listens; `stop()` kills it and resolves when it has exited. */
export function startPeerServer({ port = 9000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(entry, [String(port)], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise((done) => child.once('exit', done));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    };
    child.once('message', (message) => {
      if (message.ready) resolve({ port, stop });
      else reject(new Error(`PeerServer: ${message.error}`));
    });
    child.once('exit', (code) => reject(new Error(`PeerServer exited with code ${code} before it was ready`)));
  });
}
