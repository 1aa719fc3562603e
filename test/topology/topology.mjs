// Two client network namespaces that reach the servers but not each other, for tests and the
// bench that need a network like the internet's (BROWSER-TESTING.md items 20-22, 27-28).
// Runs inside ../shared/netns-run (root, a private namespace: "the server side"). Each client
// namespace has a veth to the server side (10.<a>.<n>.2 <-> 10.<a>.<n>.1), a default route via
// its server-side address, and no route to the other client: with `ip_forward` off in the
// server side (the default here), packets between the clients die there; on, they pass (the
// control case). Browsers run inside a client namespace through a wrapper script; pages load
// from the server-side address of their own side, an insecure origin (no HTTPS, not loopback).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const CHROMIUM = process.env.CHROME_PATH || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-fake-ui-for-media-stream',
  // Host candidates as addresses, not mDNS names nobody here could resolve.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export const FIREFOX_PREFS = {
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.default_address_only': false,
  'media.navigator.permission.disabled': true,
  // Never the public STUN server Firefox would use for a page without iceServers.
  'media.peerconnection.default_iceservers': '[]',
};

/** Why the topology cannot be built here (not root, not inside netns-run), or undefined. */
export function topologyUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root (run inside ../shared/netns-run)';
  if (process.env.NETNS_RUN_INSIDE !== '1') return 'run inside ../shared/netns-run (it must not touch the host\'s network)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'no `ip netns`';
  }
  return undefined;
}

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const quiet = (fn) => {
  try {
    return fn();
  } catch {
    return undefined;
  }
};

const live = new Set();
// A test process that ends without its `finally` (an uncaught error, process.exit) still leaves nothing behind.
process.once('exit', () => {
  for (const topology of live) topology.closeSync();
});

/** Kills what runs in `ns` (deleting a namespace does not), then deletes it. */
function deleteNamespace(ns) {
  for (let round = 0; round < 20; round++) {
    const pids = (quiet(() => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) ?? '').split(/\s+/).filter(Boolean);
    if (pids.length === 0) break;
    for (const pid of pids) quiet(() => process.kill(Number(pid), 'SIGKILL'));
    execFileSync('sleep', ['0.05']);
  }
  quiet(() => ip('netns', 'del', ns));
}

/**
 * Builds the two client namespaces. `forwarding: true` lets the server side route between
 * them (a direct path). Resolves `{ sides: [{ name, ns, serverIp, clientIp }, ...], serverIps,
 * chromium(side), firefox(side), close() }`; `close()` kills every browser and process in the
 * namespaces and deletes them (safe to call twice).
 */
export async function createTopology({ forwarding = false } = {}) {
  const reason = topologyUnavailable();
  if (reason) throw new Error(`topology: ${reason}`);
  const run = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `topology-${run}-`));
  const forwardingBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  // Addresses differ per run only to keep logs apart: each run's namespaces see only their own server side.
  const subnet = 1 + (randomBytes(1)[0] % 250);
  const sides = ['a', 'b'].map((name, index) => ({
    name,
    ns: `pi-${run}-${name}`,
    veth: `pi${run}${name}`,
    serverIp: `10.${91 + index}.${subnet}.1`,
    clientIp: `10.${91 + index}.${subnet}.2`,
  }));
  const browsers = new Set();
  const bridges = new Set();
  let closed = false;

  const closeSync = () => {
    if (closed) return;
    closed = true;
    live.delete(topology);
    for (const bridge of bridges) quiet(() => bridge.close());
    for (const side of sides) deleteNamespace(side.ns);
    quiet(() => writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardingBefore));
    rmSync(dir, { recursive: true, force: true });
  };

  const topology = {
    sides,
    serverIps: sides.map(({ serverIp }) => serverIp),
    dir,
    closeSync,
    /** Chromium inside the side's namespace, over a pipe (no debugging port crosses namespaces). */
    async chromium(side, { args = [] } = {}) {
      const browser = await puppeteer.launch({ executablePath: wrapper(side, CHROMIUM), pipe: true, headless: true, args: [...CHROMIUM_ARGS, ...args] });
      browsers.add(browser);
      return browser;
    },
    /**
     * Firefox ESR inside the side's namespace. Its remote agent listens on 127.0.0.1 of that
     * namespace only: a listener on 127.0.0.1:P here pipes each connection through
     * `ip netns exec NS socat STDIO TCP:127.0.0.1:P` (item 27).
     */
    async firefox(side, { prefs = {} } = {}) {
      const port = await freePort();
      const bridge = createServer((socket) => {
        const socat = spawn('ip', ['netns', 'exec', side.ns, 'socat', 'STDIO', `TCP:127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
        socket.pipe(socat.stdin);
        socat.stdout.pipe(socket);
        const end = () => {
          socket.destroy();
          socat.kill('SIGKILL');
        };
        socket.on('error', end).on('close', end);
        socat.on('exit', () => socket.destroy());
        socat.stdin.on('error', () => {});
      });
      await new Promise((resolve) => bridge.listen(port, '127.0.0.1', resolve));
      bridges.add(bridge);
      const browser = await puppeteer.launch({
        browser: 'firefox',
        executablePath: wrapper(side, FIREFOX),
        debuggingPort: port,
        headless: true,
        extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
      });
      browsers.add(browser);
      return browser;
    },
    /** Whether a TCP connection from inside `from`'s namespace to `address` opens (within 2 s). */
    async connects(from, address) {
      const owner = sides.find(({ clientIp }) => clientIp === address);
      const port = await freePort();
      const listen = `require('net').createServer((s) => s.end()).listen(${port}, '${address}', () => console.log('up'))`;
      const listener = spawn(...(owner ? ['ip', ['netns', 'exec', owner.ns, process.execPath, '-e', listen]] : [process.execPath, ['-e', listen]]), { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        await new Promise((resolve, reject) => {
          listener.stdout.once('data', resolve);
          listener.once('exit', () => reject(new Error(`cannot listen on ${address}`)));
        });
        const connect = `const s = require('net').connect(${port}, '${address}', () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);`;
        return await new Promise((resolve) => spawn('ip', ['netns', 'exec', from.ns, process.execPath, '-e', connect], { stdio: 'ignore' }).once('exit', (code) => resolve(code === 0)));
      } finally {
        listener.kill('SIGKILL');
      }
    },
    async close() {
      if (closed) return;
      await Promise.allSettled([...browsers].map((browser) => withTimeout(browser.close(), 5000)));
      closeSync();
    },
  };

  const wrapper = (side, executable) => {
    const file = join(dir, `${side.name}-${executable.split('/').pop()}`);
    writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${side.ns} ${executable} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  };

  live.add(topology);
  try {
    for (const { ns, veth, serverIp, clientIp } of sides) {
      ip('netns', 'add', ns);
      ip('link', 'add', `${veth}s`, 'type', 'veth', 'peer', 'name', `${veth}c`);
      ip('link', 'set', `${veth}c`, 'netns', ns);
      ip('addr', 'add', `${serverIp}/24`, 'dev', `${veth}s`);
      ip('link', 'set', `${veth}s`, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${clientIp}/24`, 'dev', `${veth}c`);
      ip('-n', ns, 'link', 'set', `${veth}c`, 'up');
      // Without a route out, Chromium gathers no host candidate at all (item 21).
      ip('-n', ns, 'route', 'add', 'default', 'via', serverIp);
    }
    writeFileSync('/proc/sys/net/ipv4/ip_forward', forwarding ? '1' : '0');
  } catch (error) {
    closeSync();
    throw new Error(`topology: ${error.stderr?.toString().trim() || error.message}`);
  }
  return topology;
}

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
