// Starts Debian's coturn (TURN_SERVER_PATH, default /usr/bin/turnserver) as a real process
// for the tests and the bench: a config file written here (the shared secret of the TURN REST
// credentials, no TLS/DTLS/CLI, its own port range, its log and pid files in a temporary
// directory), ready once it answers a STUN Binding request; `stop()` kills it by its pid.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `listeningIps`: the addresses it listens on (the server side of each client's link);
 * `relayIp`: the address its relayed ports use; `port`: its TURN port (UDP and TCP);
 * `minPort`/`maxPort`: its relay port range. Resolves `{ port, urls(ip), secret, log(), stop() }`.
 */
export async function startTurnServer({ listeningIps = ['127.0.0.1'], relayIp = listeningIps[0], port = 34780, minPort = 49500, maxPort = 49600, secret = randomBytes(16).toString('hex'), realm = 'peer-invitation.test', extra = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'turnserver-'));
  const logFile = join(dir, 'turn.log');
  const config = [
    ...listeningIps.map((ip) => `listening-ip=${ip}`),
    `relay-ip=${relayIp}`,
    `listening-port=${port}`,
    `min-port=${minPort}`,
    `max-port=${maxPort}`,
    `realm=${realm}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-software-attribute',
    `log-file=${logFile}`,
    'simple-log',
    // Its defaults are shared paths (/var/run/turnserver.pid, /var/lib/turn/turndb): several runs at once must not meet there.
    `pidfile=${join(dir, 'turnserver.pid')}`,
    `userdb=${join(dir, 'turndb')}`,
    ...extra,
  ];
  writeFileSync(join(dir, 'turnserver.conf'), `${config.join('\n')}\n`);
  const child = spawn(process.env.TURN_SERVER_PATH || '/usr/bin/turnserver', ['-c', join(dir, 'turnserver.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (data) => (stderr += data));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const running = () => child.exitCode === null && child.signalCode === null;
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (running()) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await answersBinding({ host: listeningIps[0], port, running });
  } catch (error) {
    await stop();
    throw new Error(`turnserver did not start: ${error.message}\n${stderr}${log().slice(-2000)}`);
  }
  return { port, pid: child.pid, secret, realm, urls: (ip = listeningIps[0]) => [`turn:${ip}:${port}?transport=udp`, `turn:${ip}:${port}?transport=tcp`], log, stop };
}

/** Sends STUN Binding requests every 100 ms until one is answered (10 s at most). */
function answersBinding({ host, port, running }) {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0);
    request.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(request, 8);
    const finish = (error) => {
      clearInterval(timer);
      clearTimeout(deadline);
      socket.close();
      if (error) reject(error);
      else resolve();
    };
    socket.on('message', (message) => {
      if (message.readUInt16BE(0) === 0x0101 && message.subarray(8, 20).equals(request.subarray(8, 20))) finish();
    });
    socket.on('error', () => {});
    const timer = setInterval(() => {
      if (!running()) return finish(new Error('it exited'));
      socket.send(request, port, host);
    }, 100);
    const deadline = setTimeout(() => finish(new Error('no STUN answer within 10 s')), 10_000);
  });
}
