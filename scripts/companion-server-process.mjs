// Starts scripts/companion-server.mjs as a child process; used by the tests, `npm start` and the benchmark.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./companion-server.mjs', import.meta.url));

/**
 * Resolves once the server listens, with its port, `stop()` (SIGTERM, then SIGKILL
 * after 3 s; resolves when it has exited), `kill()` (SIGKILL at once, a crash)
 * `memory()` (the child's process.memoryUsage() and cpuUsage()) and `collectGarbage()` (a full GC
 * in the child, so that its RSS read next shows what it holds rather than what it has not yet freed).
 * `env`: more environment for the child (e.g. NODE_EXTRA_CA_CERTS for a test's push-service stand-in).
 */
export function startCompanionServer({ options = {}, secret, verifyModule, env: extraEnv } = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...extraEnv, PEER_INVITATION_SECRET: secret ?? '', COMPANION_VERIFY_MODULE: verifyModule ?? '' };
    const child = fork(entry, [JSON.stringify(options)], { env, execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise((done) => child.once('exit', done));
    const running = () => child.exitCode === null && child.signalCode === null;
    const kill = async () => {
      if (running()) child.kill('SIGKILL');
      await exited;
    };
    const stop = async () => {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => void kill(), 3000);
      await exited;
      clearTimeout(timer);
    };
    const memory = () =>
      new Promise((done) => {
        const onMessage = (message) => {
          if (!message.memory) return;
          child.off('message', onMessage);
          done(message);
        };
        child.on('message', onMessage);
        child.send('memory');
      });
    const collectGarbage = () =>
      new Promise((done) => {
        const onMessage = (message) => {
          if (!message.collected) return;
          child.off('message', onMessage);
          done();
        };
        child.on('message', onMessage);
        child.send('gc');
      });
    const onReady = (message) => {
      if (message.ready !== undefined) {
        child.off('message', onReady);
        resolve({ port: message.ready, pid: child.pid, stop, kill, memory, collectGarbage });
      } else if (message.error) reject(new Error(`companion server: ${message.error}`));
    };
    child.on('message', onReady);
    child.once('exit', (code) => reject(new Error(`companion server exited with code ${code} before it was ready`)));
  });
}
