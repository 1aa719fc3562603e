// @web/test-runner in Debian's headless Chromium, against a real PeerServer that
// this config starts on 127.0.0.1 (in a child process, killed when the run ends).
// Run inside ../shared/netns-run so WebRTC stays in a sealed network namespace.
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { fromRollup } from '@web/dev-server-rollup';
import { chromeLauncher } from '@web/test-runner-chrome';
import rollupCommonjs from '@rollup/plugin-commonjs';
import { startPeerServer } from './scripts/peer-server-process.mjs';
import { companionServerPlugin } from './test/server/companion-server-plugin.mjs';
import { pagesPlugin } from './test/server/pages-plugin.mjs';
import { readmePlugin } from './test/server/readme-plugin.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

const PEER_PORT = Number(process.env.PEER_PORT ?? 9000);
const commonjs = fromRollup(rollupCommonjs);

/**
 * Starts the PeerServer before the browsers, and lets tests stop and restart it.
 * `start-extra` with `expireTimeoutMs` starts (once per value) another PeerServer
 * with that `expire_timeout` on a port of its own and returns its address.
 */
function peerServerPlugin() {
  let server;
  const extras = new Map();
  const start = async () => {
    server = await startPeerServer({ port: PEER_PORT, env: { PEER_ALIVE_TIMEOUT_MS: '15000', PEER_EXPIRE_TIMEOUT_MS: '5000' } });
  };
  const startExtra = (expireTimeoutMs) => {
    if (!extras.has(expireTimeoutMs)) {
      const port = PEER_PORT + 1 + extras.size;
      extras.set(expireTimeoutMs, startPeerServer({ port, env: { PEER_ALIVE_TIMEOUT_MS: '15000', PEER_EXPIRE_TIMEOUT_MS: String(expireTimeoutMs) } }));
    }
    return extras.get(expireTimeoutMs);
  };
  return {
    name: 'peer-server',
    serverStart: start,
    async serverStop() {
      await server?.stop();
      await Promise.all([...extras.values()].map((extra) => extra.then((started) => started.stop(), () => {})));
    },
    async executeCommand({ command, payload }) {
      if (command !== 'peer-server') return undefined;
      if (payload?.action === 'start-extra') {
        const { port } = await startExtra(Number(payload.expireTimeoutMs));
        return { host: '127.0.0.1', port, path: '/peerjs' };
      }
      if (payload?.action === 'stop') await server.stop();
      else if (payload?.action === 'start') await start();
      return { host: '127.0.0.1', port: PEER_PORT, path: '/peerjs' };
    },
  };
}

export default {
  files: process.env.TEST_FILES ?? 'test/**/*.test.ts',
  nodeResolve: { browser: true },
  concurrency: 1,
  concurrentBrowsers: 1,
  browserStartTimeout: 60_000,
  testsStartTimeout: 60_000,
  testsFinishTimeout: 20 * 60_000,
  testFramework: { config: { timeout: 60_000 } },
  browsers: [
    chromeLauncher({
      launchOptions: { executablePath: process.env.CHROME_PATH || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS },
    }),
  ],
  plugins: [
    commonjs({ include: ['**/node_modules/sdp/**'] }),
    esbuildPlugin({ ts: true, target: 'es2022' }),
    peerServerPlugin(),
    companionServerPlugin(),
    pagesPlugin(),
    readmePlugin(),
  ],
};
