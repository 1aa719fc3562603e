// The demo's servers, as `npm start` runs them (scripts/start.mjs) and the Firefox demo push
// test starts them (test/push/browser/demo.test.mjs): a static HTTP server on 127.0.0.1 that also
// plays the app's backend with a token endpoint, and the companion PeerServer (tokens required, a
// random secret per run; Web Push on when given VAPID keys) in a child process.
// Build first: `npm run build` (dist/) and buildDemo() (demo-dist/).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_BUNDLE } from './build-demo.mjs';
import { startCompanionServer } from './companion-server-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const PEER_PATH = '/peerjs';
const TOKEN_PATH = '/demo/token';

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
 * The shipped service worker is served beside the demo's pages: a worker's default scope is its
 * own folder, and it must cover /demo/ for the pages there to reach its registration.
 */
const BUNDLES = { '/demo/app.ts': DEMO_BUNDLE, '/demo/peer-invitation-sw.js': 'dist/peer-invitation-sw.js' };

/**
 * Starts both servers; resolves with `origin` (the HTTP server's), `peerPort` and `stop()`.
 *   push: { vapidKeys, subject, allowedEndpoints? } turns Web Push on (startPeerServer's `push`).
 *   companionEnv: extra environment for the companion's process (a test's NODE_EXTRA_CA_CERTS).
 *   metricsToken: serves the companion's metrics (tests wait on its registered clients).
 */
export async function startDemoServer({ host = '127.0.0.1', port = 8080, peerPort = 9000, aliveTimeoutMs = 16_000, push, companionEnv, metricsToken } = {}) {
  /** This run's token secret: shared by the companion server and the stand-in backend, never written anywhere. */
  const secret = randomBytes(32).toString('base64url');
  const { signToken } = await import('../dist/server/index.js');
  let companion;
  const http = createServer((request, response) => {
    handle(request, response).catch((error) => {
      console.error(error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  async function handle(request, response) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const { pathname, searchParams } = new URL(request.url ?? '/', `http://${host}`);
    if (pathname === '/' || pathname === '/demo') {
      response.writeHead(302, { location: '/demo/' }).end();
      return;
    }
    if (pathname === '/demo/config.json') {
      send(response, request, 200, TYPES['.json'], JSON.stringify({ peerPort: companion.port, peerPath: PEER_PATH, tokenUrl: TOKEN_PATH, push: push !== undefined }));
      return;
    }
    if (pathname === TOKEN_PATH) {
      sendToken(searchParams.get('id') ?? '', request, response);
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
  function sendToken(id, request, response) {
    if (!/^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/.test(id) || id.length > 64) {
      send(response, request, 400, 'text/plain; charset=utf-8', 'id: 1 to 64 letters or digits, with single - _ or spaces between\n');
      return;
    }
    send(response, request, 200, 'text/plain; charset=utf-8', signToken({ secret, userId: id, expiresInSeconds: 600 }));
  }

  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const stopHttp = () =>
    new Promise((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
  try {
    const options = { port: peerPort, host, path: PEER_PATH, aliveTimeoutMs, ...(push ? { push } : {}), ...(metricsToken ? { metricsToken } : {}) };
    companion = await startCompanionServer({ options, secret, env: companionEnv });
  } catch (error) {
    await stopHttp();
    throw error;
  }
  return {
    origin: `http://${host}:${http.address().port}`,
    peerPort: companion.port,
    peerPath: PEER_PATH,
    tokenPath: TOKEN_PATH,
    stop: () => Promise.all([stopHttp(), companion.stop()]).then(() => undefined),
  };
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
