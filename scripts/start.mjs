// `npm start`: builds the library and the demo, makes the demo's VAPID keys on first start,
// starts the demo's servers (scripts/demo-server.mjs: the companion PeerServer with tokens and
// Web Push, and a static HTTP server on 127.0.0.1 that also plays the app's backend with a
// token endpoint), and prints the demo's addresses.
//   env: PORT (HTTP, default 8080), PEER_PORT (PeerServer, default 9000),
//        PEER_ALIVE_TIMEOUT_MS (how long the server keeps a vanished tab's id, default 16000),
//        DEMO_VAPID_KEY_FILE (the demo's VAPID key pair, default .demo-vapid-keys.json, gitignored)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildDemo } from './build-demo.mjs';
import { startDemoServer } from './demo-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const port = readPort('PORT', 8080);
const peerPort = readPort('PEER_PORT', 9000);
const vapidKeyFile = process.env.DEMO_VAPID_KEY_FILE || '.demo-vapid-keys.json';
/** Who runs this server, for the push services (RFC 8292); a real deployment puts its own address. */
const PUSH_SUBJECT = 'mailto:demo@example.com';

function readPort(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) fail(`${name} must be a port number from 1 to 65535; got "${text}"`);
  return value;
}

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})`))));
  });
}

let servers;
try {
  await run('npm', ['run', 'build']);
  await buildDemo();
  // The server's own subcommand makes the key pair once; later starts reuse it, so browsers stay subscribed.
  if (!existsSync(vapidKeyFile)) await run(process.execPath, ['dist/server/cli.js', 'generate-vapid-keys', vapidKeyFile]);
  const push = { vapidKeys: JSON.parse(readFileSync(vapidKeyFile, 'utf8')), subject: PUSH_SUBJECT };
  const aliveTimeoutMs = Number(process.env.PEER_ALIVE_TIMEOUT_MS ?? 16_000);
  servers = await startDemoServer({ host: HOST, port, peerPort, aliveTimeoutMs, push });
} catch (error) {
  fail(error.code === 'EADDRINUSE' ? `port ${port} is taken; set PORT to another, e.g. PORT=${port + 1} npm start` : error.message);
}

let stopping;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`\n${signal}: stopping the servers`);
    stopping ??= servers.stop().then(() => process.exit(0));
  });
}

const base = servers.origin;
console.log(`
peer-invitation demo is running (companion PeerServer on ${HOST}:${servers.peerPort}${servers.peerPath}, tokens required,
Web Push on with the VAPID keys of ${vapidKeyFile}; the pages get their tokens from ${base}${servers.tokenPath},
a stand-in for your backend's login).
Open these in two tabs:
  ${base}/demo/?user=alice
  ${base}/demo/?user=bob
Or pick any id at ${base}/demo/, and try the script-tag page: ${base}/demo/script-tag.html?user=carol
"Ring me when this tab is closed" in bob's tab, then close it: alice's invitations ring bob's browser.
Press Ctrl-C to stop.`);
