// @web/test-runner in Debian's headless Chromium and Firefox ESR (every test file runs
// in each), against a real PeerServer that this config starts on 127.0.0.1 (in a child
// process, killed when the run ends). Run inside ../shared/netns-run so WebRTC stays in
// a sealed network namespace. BROWSERS=chromium or BROWSERS=firefox runs one of them.
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { fromRollup } from '@web/dev-server-rollup';
import { chromeLauncher } from '@web/test-runner-chrome';
import { puppeteerLauncher } from '@web/test-runner-puppeteer';
import rollupCommonjs from '@rollup/plugin-commonjs';
import { startPeerServer } from './scripts/peer-server-process.mjs';
import { companionServerPlugin } from './test/server/companion-server-plugin.mjs';
import { pagesPlugin } from './test/server/pages-plugin.mjs';
import { readmePlugin } from './test/server/readme-plugin.mjs';
import { CHROME_PATH, CHROMIUM_ARGS, FIREFOX_PATH, FIREFOX_PREFS } from './test/server/browsers.mjs';

export { CHROMIUM_ARGS };

const LAUNCHERS = {
  chromium: () =>
    chromeLauncher({
      launchOptions: { executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS },
    }),
  firefox: () =>
    puppeteerLauncher({
      launchOptions: {
        browser: 'firefox',
        executablePath: FIREFOX_PATH,
        headless: true,
        extraPrefsFirefox: FIREFOX_PREFS,
      },
    }),
};
const BROWSERS = (process.env.BROWSERS ?? 'chromium,firefox').split(',').map((name) => name.trim()).filter(Boolean);

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
  browsers: BROWSERS.map((name) => {
    if (!LAUNCHERS[name]) throw new Error(`BROWSERS: unknown browser ${name} (chromium, firefox)`);
    return LAUNCHERS[name]();
  }),
  plugins: [
    commonjs({ include: ['**/node_modules/sdp/**'] }),
    esbuildPlugin({ ts: true, target: 'es2022' }),
    peerServerPlugin(),
    companionServerPlugin(),
    pagesPlugin(),
    readmePlugin(),
  ],
};
