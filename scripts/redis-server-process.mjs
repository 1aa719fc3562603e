// Starts Debian's redis-server (REDIS_SERVER_PATH, default /usr/bin/redis-server) without
// persistence on 127.0.0.1, for the cluster tests and the bench; `stop()` kills it.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const HOST = '127.0.0.1';

/** A free TCP port of 127.0.0.1 (free when asked; good enough for a process started next). */
export function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once it accepts connections, on `port` or a free one: `{ port, url, stop() }`. */
export async function startRedisServer(port) {
  port ??= await freePort();
  const child = spawn(process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (data) => {
      output += data;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  child.stdout.resume();
  return {
    port,
    url: `redis://${HOST}:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
