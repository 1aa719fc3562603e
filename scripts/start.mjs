// `npm start`: builds the library and the demo, starts the companion PeerServer
// (tokens required, a random secret for this run) and a static HTTP server on
// 127.0.0.1 that also plays the app's backend with a token endpoint, and prints
// the demo's addresses.
//   env: PORT (HTTP, default 8080), PEER_PORT (PeerServer, default 9000),
//        PEER_ALIVE_TIMEOUT_MS (how long the server keeps a vanished tab's id, default 16000)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_BUNDLE, buildDemo } from './build-demo.mjs';
import { startCompanionServer } from './companion-server-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const PEER_PATH = '/peerjs';
const TOKEN_PATH = '/demo/token';
/** This run's token secret: shared by the companion server and the stand-in backend, never written anywhere. */
const SECRET = randomBytes(32).toString('base64url');
/** Signs tokens; loaded from dist/server/ once `npm run build` has made it. */
let signToken;
const port = readPort('PORT', 8080);
const peerPort = readPort('PEER_PORT', 9000);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
/** Only these folders are served: the demo's pages and the built files they load. */
const SERVED = ['demo', 'dist'];
/**
 * demo/index.html loads ./app.ts; here that URL answers with the bundle (the test runner
 * compiles it instead), built into demo-dist/ so that it never lands in the npm package.
 */
const BUNDLES = { '/demo/app.ts': DEMO_BUNDLE };

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

async function handle(request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const { pathname } = new URL(request.url ?? '/', `http://${HOST}`);
  if (pathname === '/' || pathname === '/demo') {
    response.writeHead(302, { location: '/demo/' }).end();
    return;
  }
  if (pathname === '/demo/config.json') {
    send(response, request, 200, TYPES['.json'], JSON.stringify({ peerPort, peerPath: PEER_PATH, tokenUrl: TOKEN_PATH }));
    return;
  }
  if (pathname === TOKEN_PATH && signToken) {
    sendToken(request, response);
    return;
  }
  const file = BUNDLES[pathname] ?? resolveFile(pathname);
  const info = file && (await stat(join(root, file)).catch(() => undefined));
  if (!info?.isFile()) {
    send(response, request, 404, 'text/plain; charset=utf-8', `Not found: ${pathname}\n`);
    return;
  }
  const type = BUNDLES[pathname] ? TYPES['.js'] : TYPES[extname(file)] ?? 'application/octet-stream';
  response.writeHead(200, { 'content-type': type, 'content-length': info.size, 'cache-control': 'no-store' });
  if (request.method === 'HEAD') response.end();
  else createReadStream(join(root, file)).pipe(response);
}

/**
 * STAND-IN FOR A REAL LOGIN. An app's backend signs a token only for the user its login
 * session proves (a cookie, an OAuth token...). This demo has no login: it signs one for
 * whatever id the page asks, so anyone who can reach this port can be anyone. It still shows
 * the flow: the secret stays on the server, the page fetches a token before each registration.
 */
function sendToken(request, response) {
  const id = new URL(request.url ?? '/', `http://${HOST}`).searchParams.get('id') ?? '';
  if (!/^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/.test(id) || id.length > 64) {
    send(response, request, 400, 'text/plain; charset=utf-8', 'id: 1 to 64 letters or digits, with single - _ or spaces between\n');
    return;
  }
  send(response, request, 200, 'text/plain; charset=utf-8', signToken({ secret: SECRET, userId: id, expiresInSeconds: 600 }));
}

/** The file under a served folder that a URL path names, or undefined (also for `..` tricks). */
function resolveFile(pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  const file = normalize(decoded.endsWith('/') ? `${decoded}index.html` : decoded).replace(/^[/\\]+/, '');
  return SERVED.some((folder) => file.startsWith(folder + sep)) ? file : undefined;
}

function send(response, request, status, type, body) {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const http = createServer((request, response) => {
  handle(request, response).catch((error) => {
    console.error(error);
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
});
let peerServer;
let stopping;

/** Closes both servers and exits; a second call waits for the first (which never returns). */
function stop(code) {
  stopping ??= (async () => {
    http.closeAllConnections();
    await Promise.all([new Promise((resolve) => http.close(resolve)), peerServer?.stop()]);
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`\n${signal}: stopping the servers`);
    void stop(0);
  });
}

try {
  await listen(http);
} catch (error) {
  fail(error.code === 'EADDRINUSE' ? `port ${port} is taken; set PORT to another, e.g. PORT=${port + 1} npm start` : String(error));
}
try {
  await run('npm', ['run', 'build']);
  await buildDemo();
  ({ signToken } = await import('../dist/server/index.js'));
} catch (error) {
  console.error(`npm start: ${error.message}`);
  await stop(1);
}
try {
  const aliveTimeoutMs = Number(process.env.PEER_ALIVE_TIMEOUT_MS ?? 16_000);
  peerServer = await startCompanionServer({ options: { port: peerPort, host: HOST, path: PEER_PATH, aliveTimeoutMs }, secret: SECRET });
} catch (error) {
  console.error(`npm start: ${error.message}`);
  await stop(1);
}

const base = `http://${HOST}:${port}`;
console.log(`
peer-invitation demo is running (companion PeerServer on ${HOST}:${peerPort}${PEER_PATH}, tokens required;
the pages get theirs from ${base}${TOKEN_PATH}, a stand-in for your backend's login).
Open these in two tabs:
  ${base}/demo/?user=alice
  ${base}/demo/?user=bob
Or pick any id at ${base}/demo/, and try the script-tag page: ${base}/demo/script-tag.html?user=carol
Press Ctrl-C to stop.`);
