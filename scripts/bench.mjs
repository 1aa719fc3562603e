// npm run bench: the plugin against raw PeerJS in headless Chromium, on 127.0.0.1 only.
// Builds dist/, bundles test/bench/ into bench-results/page/, starts a PeerServer
// (BENCH_PEER_PORT, default 9100) and a static server, runs each section of the
// bench page, prints a table and writes bench-results/latest.json. Run it inside
// ../shared/netns-run. Everything is bounded: per-section timeouts and a hard
// limit for the whole run (BENCH_TIME_LIMIT_MS, default 10 minutes).
// The companion server (dist/server/) is measured too: its 60 s mailbox (section `mailbox`, in
// the page) and how far one server process goes (section `capacity`, scripts/bench-server.mjs,
// a Node load generator run before the browser starts), and several as one cluster over Redis
// (section `cluster`, scripts/bench-cluster.mjs, Node clients against three node processes and a redis-server).
//   BENCH_ONLY=warm,cold   runs some sections only (warm twoTabs userTabs cold fanout redelivery mailbox clusterDelivery throughput memory flood callState capacity serverFlood cluster)
//   CHROME_PATH            another Chromium (default /usr/bin/chromium)
//   BENCH_PROFILE=1        records a CPU profile of every page during each section, written as
//                          bench-results/<section>-<page>.cpuprofile (open in DevTools, or summarise
//                          with scripts/profile-summary.mjs); profiling slows the figures of that run
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import puppeteer from 'puppeteer-core';
import { CHROMIUM_ARGS } from '../web-test-runner.config.mjs';
import { measureCluster } from './bench-cluster.mjs';
import { startRedisServer } from './redis-server-process.mjs';
import { measureCapacity, measureServerFlood } from './bench-server.mjs';
import { startCompanionServer } from './companion-server-process.mjs';
import { startPeerServer } from './peer-server-process.mjs';
import { iifeOptions } from './iife-options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'bench-results');
const pageDir = join(out, 'page');
const PEER_PORT = Number(process.env.BENCH_PEER_PORT ?? 9100);
const TIME_LIMIT_MS = Number(process.env.BENCH_TIME_LIMIT_MS ?? 10 * 60_000);
const PROFILE = process.env.BENCH_PROFILE === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((name) => name.trim())) : undefined;

/** What runs in the page, in order, with its parameters and how long it may take. */
const SECTIONS = [
  { name: 'warm', params: { reps: 200, warmup: 10 }, timeoutMs: 120_000 },
  { name: 'twoTabs', params: { reps: 200, warmup: 10 }, timeoutMs: 120_000 },
  { name: 'userTabs', params: { reps: 60, warmup: 5, takeoverReps: 6 }, timeoutMs: 120_000 },
  { name: 'cold', params: { reps: 40, warmup: 2 }, timeoutMs: 120_000 },
  { name: 'fanout', params: { sizes: [1, 10, 50], coldReps: 3, warmReps: 20, warmup: 3 }, timeoutMs: 240_000 },
  { name: 'redelivery', params: { reps: 10, firstMs: 1500, spreadMs: 3900, attemptsWindowMs: 30_000 }, timeoutMs: 120_000 },
  // Against the companion server (`companion: true` adds its `peerPort`).
  { name: 'mailbox', params: { reps: 6, firstMs: 1500, spreadMs: 9000, windowMs: 66_000 }, timeoutMs: 120_000, companion: true },
  // Against two servers of a cluster over one redis-server (`cluster: true` adds their `portA` and `portB`).
  { name: 'clusterDelivery', params: { reps: 20, warmup: 2, warmReps: 100 }, timeoutMs: 120_000, cluster: true },
  { name: 'throughput', params: { count: 1000, reps: 3 }, timeoutMs: 180_000 },
  { name: 'memory', params: { count: 1000, rounds: 2, batch: 20 }, timeoutMs: 150_000 },
  { name: 'flood', params: { invites: 1500, cancels: 1500, honestReps: 10, dataBytes: 8000 }, timeoutMs: 120_000 },
  // Advanced mode: a call-state change of one member reaching the three others (bounded: 30 samples).
  { name: 'callState', params: { samples: 30, warmup: 3 }, timeoutMs: 90_000 },
];

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };
const started = Date.now();
const log = (message) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);

// ---- resources, each with its one teardown ---------------------------------------------

const teardowns = [];
async function teardown() {
  for (const stop of teardowns.splice(0).reverse()) await stop().catch(() => {});
}
// Sections are cut to fit TIME_LIMIT_MS; this is the last resort if teardown itself hangs.
const hardStop = setTimeout(async () => {
  console.error(`bench: over the ${TIME_LIMIT_MS} ms limit by a minute; stopping`);
  await teardown();
  process.exit(2);
}, TIME_LIMIT_MS + 60_000);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await teardown();
    process.exit(130);
  });
}
// The PeerServer child outlives a crashed parent: stop it on every way out.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.once(event, async (error) => {
    console.error(error);
    await teardown();
    process.exit(1);
  });
}

function serveStatic(dir) {
  return new Promise((resolve) => {
    const server = createServer((request, response) => {
      const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^([/\\])+/, '');
      try {
        const body = readFileSync(join(dir, path || 'index.html'));
        // Cross-origin isolated, so performance.now() resolves ~5 µs rather than 100 µs.
        response.writeHead(200, {
          'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
          'cache-control': 'no-store',
          'cross-origin-opener-policy': 'same-origin',
          'cross-origin-embedder-policy': 'require-corp',
        });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---- statistics --------------------------------------------------------------------------

function stats(samples) {
  const sorted = [...samples].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { n: sorted.length, median: rank(0.5), p95: rank(0.95), min: sorted[0], max: sorted.at(-1), mean };
}

// ---- sizes (Node only) ----------------------------------------------------------------------

async function sizes() {
  const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
  const bundle = async (options) => {
    const result = await build({ bundle: true, format: 'esm', target: 'es2022', minify: true, write: false, logLevel: 'warning', ...options });
    return result.outputFiles[0].contents;
  };
  const iife = readFileSync(join(root, 'dist/peer-invitation.iife.js'));
  const own = await bundle({ entryPoints: [join(root, 'src/index.ts')], external: ['peerjs', 'rxjs', 'idb'] });
  const peerjs = await bundle({ stdin: { contents: "export * from 'peerjs';", resolveDir: root, loader: 'js' } });
  // What makes up the script-tag bundle (esbuild's metafile: minified bytes each input left in the output).
  const { metafile } = await build({ ...iifeOptions, write: false, metafile: true });
  const iifeInputs = Object.values(metafile.outputs)[0].inputs;
  // An app bundling the ES module for the basic API only: which of this release's features it still carries.
  const basicApp = await build({
    stdin: { contents: "import { createSignalingPlugin } from './src/index.ts'; globalThis.plugin = createSignalingPlugin();", resolveDir: root, loader: 'ts' },
    bundle: true, format: 'esm', target: 'es2022', minify: true, write: false, metafile: true, logLevel: 'warning',
  });
  const basicInputs = Object.values(basicApp.metafile.outputs)[0].inputs;
  const bytesOf = (inputs, test) => Object.entries(inputs).reduce((sum, [path, { bytesInOutput }]) => sum + (test(path) ? bytesInOutput : 0), 0);
  return {
    iife: { minified: iife.length, gzip: gz(iife), contributors: contributors(iifeInputs) },
    ownCode: { minified: own.length, gzip: gz(own) },
    peerjs: { minified: peerjs.length, gzip: gz(peerjs) },
    basicApp: {
      minified: basicApp.outputFiles[0].contents.length,
      gzip: gz(basicApp.outputFiles[0].contents),
      // Minified bytes of the features an app of the basic API may not want.
      history: bytesOf(basicInputs, (path) => path.startsWith('src/history/') || /^src\/storage\/.*history/.test(path)),
      busy: bytesOf(basicInputs, (path) => path.startsWith('src/busy/')),
      advancedMode: bytesOf(basicInputs, (path) => path.startsWith('src/session/calls/') || path === 'src/core/roster.ts'),
      push: bytesOf(basicInputs, (path) => path.startsWith('src/push/')),
    },
  };
}

/** Minified bytes by package (node_modules) or by folder of src/, the biggest first. */
function contributors(inputs) {
  const parts = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const part = path.split('/').slice(0, 2).join('/');
    parts.set(part, (parts.get(part) ?? 0) + bytesInOutput);
  }
  return [...parts].sort((a, b) => b[1] - a[1]).map(([part, bytes]) => ({ part, bytes }));
}

// ---- the run --------------------------------------------------------------------------------

async function main() {
  log('npm run build');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

  log('bundling the bench page');
  rmSync(pageDir, { recursive: true, force: true });
  mkdirSync(pageDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'test/bench/bench-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
    outfile: join(pageDir, 'bench-page.js'),
  });
  copyFileSync(join(root, 'test/bench/index.html'), join(pageDir, 'index.html'));

  const size = await sizes();
  const loadAtStart = loadavg();
  if (loadAtStart[0] > cpus().length) log(`warning: load average ${loadAtStart[0].toFixed(1)} on ${cpus().length} cores; figures will be noisy`);
  const capacity = await runCapacity();
  const serverFlood = await runServerFlood();
  const cluster = await runCluster();

  log(`PeerServer on 127.0.0.1:${PEER_PORT}`);
  const peerServer = await startPeerServer({ port: PEER_PORT, env: { PEER_HOST: '127.0.0.1', PEER_ALIVE_TIMEOUT_MS: '15000', PEER_EXPIRE_TIMEOUT_MS: '5000' } });
  teardowns.push(() => peerServer.stop());
  const companion = await startMailboxServer();
  const clusterPair = await startClusterPair();
  const http = await serveStatic(pageDir);
  teardowns.push(() => new Promise((resolve) => http.close(resolve)));
  const url = `http://127.0.0.1:${http.address().port}/index.html?peerPort=${PEER_PORT}`;

  const executablePath = process.env.CHROME_PATH || '/usr/bin/chromium';
  log(`launching ${executablePath}`);
  const browser = await puppeteer.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, protocolTimeout: 300_000 });
  teardowns.push(() => browser.close());
  const pageErrors = [];
  const profiler = createProfiler(out);
  /** A new tab, so a new renderer: a reload would keep the old one's connections and its cap. */
  const openPage = async () => {
    const opened = await browser.newPage();
    opened.once('close', () => profiler.forget(opened));
    opened.on('pageerror', (error) => pageErrors.push(String(error)));
    opened.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    const cdp = await opened.createCDPSession();
    await opened.exposeFunction('benchHeap', async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize, totalSize } = await cdp.send('Runtime.getHeapUsage');
      return { usedSize, totalSize };
    });
    await opened.goto(url, { waitUntil: 'load' });
    await opened.waitForFunction(() => typeof window.bench === 'object', { timeout: 30_000 });
    await profiler.watch(opened, cdp);
    return opened;
  };
  let page = await openPage();

  const results = { ...(capacity.result && { capacity: capacity.result }), ...(serverFlood.result && { serverFlood: serverFlood.result }), ...(cluster.result && { cluster: cluster.result }) };
  const errors = { ...(capacity.error && { capacity: capacity.error }), ...(serverFlood.error && { serverFlood: serverFlood.error }), ...(cluster.error && { cluster: cluster.error }) };
  const peerConnectionsLeft = {};
  for (const section of SECTIONS) {
    if (ONLY && !ONLY.has(section.name)) continue;
    // Leave 30 s for teardown and the report; a section that cannot fit is skipped, one that runs long is cut.
    const timeoutMs = Math.min(section.timeoutMs, TIME_LIMIT_MS - (Date.now() - started) - 30_000);
    if (timeoutMs < 10_000) {
      errors[section.name] = 'skipped: BENCH_TIME_LIMIT_MS reached';
      log(`section ${section.name} skipped (time limit)`);
      continue;
    }
    log(`section ${section.name} ${JSON.stringify(section.params)}`);
    const began = Date.now();
    let timer;
    await profiler.begin(section.name);
    try {
      const params = section.companion
        ? { ...section.params, peerPort: companion.port }
        : section.cluster
          ? { ...section.params, portA: clusterPair.portA, portB: clusterPair.portB }
          : section.params;
      const run =
        section.name === 'twoTabs'
          ? runTwoTabs(openPage, page, params)
          : section.name === 'userTabs'
            ? runUserTabs(openPage, page, params)
            : page.evaluate((name, sectionParams) => window.bench.run(name, sectionParams), section.name, params);
      results[section.name] = await Promise.race([
        run,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`section ${section.name} took over ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      // Every section closes all it opened: what stays open is a leak, and counts towards Chromium's cap.
      const left = await page.evaluate(() => window.bench.run('leftovers'));
      peerConnectionsLeft[section.name] = left;
      log(`section ${section.name} done in ${((Date.now() - began) / 1000).toFixed(1)} s; RTCPeerConnections left open: ${left.open} (uncollected after GC: ${left.uncollected})`);
    } catch (error) {
      errors[section.name] = String(error?.message ?? error);
      log(`section ${section.name} FAILED: ${errors[section.name]}`);
      // A fresh tab stops whatever the section left running.
      await page.close().catch(() => {});
      page = await openPage();
    } finally {
      clearTimeout(timer);
      for (const file of await profiler.end()) log(`CPU profile ${file}`);
    }
  }

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    loadAverage: { start: loadAtStart, end: loadavg() },
    os: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    chromium: await browser.version(),
    date: new Date().toISOString(),
  };
  await teardown();

  const figures = figuresOf(results, size);
  const report = {
    machine,
    durationMs: Date.now() - started,
    peerServer: { host: '127.0.0.1', port: PEER_PORT, expireTimeoutMs: 5000, aliveTimeoutMs: 15000 },
    companionServer: companion && { host: '127.0.0.1', port: companion.port, expireTimeoutMs: 60_000, aliveTimeoutMs: 15000, tokens: false },
    chromiumArgs: CHROMIUM_ARGS,
    sections: SECTIONS.filter((section) => !ONLY || ONLY.has(section.name)),
    figures,
    sizes: size,
    results,
    peerConnectionsLeft,
    errors,
    pageErrors: pageErrors.slice(0, 50),
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

  console.log('');
  console.log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${machine.node}, ${machine.chromium}, ${machine.date}`);
  console.log(`Load average (1 min) at start ${loadAtStart[0].toFixed(1)}, at end ${machine.loadAverage.end[0].toFixed(1)}`);
  console.log(printTable(figures));
  const biggest = size.iife.contributors.slice(0, 8).map(({ part, bytes }) => `${part} ${(bytes / 1024).toFixed(1)}`);
  console.log(`Biggest parts of the script-tag bundle (KiB minified, esbuild metafile): ${biggest.join(', ')}`);
  console.log('Latencies in ms; plugin = createSignalingPlugin (IndexedDB storage unless noted), raw = PeerJS DataConnection, same page, same run, reps interleaved.');
  console.log("ratio = plugin median / raw median. met? judges the median ('median only': the median meets the target, the p95 does not).");
  if (Object.keys(errors).length > 0) console.log(`Failed sections: ${JSON.stringify(errors)}`);
  if (pageErrors.length > 0) console.log(`Page errors (${pageErrors.length}), first: ${pageErrors[0]}`);
  console.log(`Wrote ${join(out, 'latest.json')} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return Object.keys(errors).length === 0 ? 0 : 1;
}

/**
 * BENCH_PROFILE=1: the DevTools Protocol's sampling profiler on every open page while a section
 * runs (both ends, when the section uses a second tab), one .cpuprofile per page and section.
 */
function createProfiler(dir) {
  const sessions = new Map(); // page → { cdp, name, profiling }
  const stopped = []; // profiles of pages closed during the section
  let section;
  let counter = 0;
  const start = async (entry) => {
    await entry.cdp.send('Profiler.enable');
    await entry.cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await entry.cdp.send('Profiler.start');
    entry.profiling = true;
  };
  const stop = async (entry) => {
    entry.profiling = false;
    const { profile } = await entry.cdp.send('Profiler.stop').catch(() => ({}));
    if (profile) stopped.push({ name: entry.name, profile });
  };
  return {
    async watch(page, cdp) {
      if (!PROFILE) return;
      const entry = { cdp, name: `page${++counter}`, profiling: false };
      sessions.set(page, entry);
      // A page closed mid-section (the second tab of twoTabs) hands its profile over first.
      const close = page.close.bind(page);
      page.close = async (...args) => {
        if (entry.profiling) await stop(entry);
        sessions.delete(page);
        return close(...args);
      };
      if (section) await start(entry);
    },
    forget(page) {
      sessions.delete(page);
    },
    async begin(name) {
      if (!PROFILE) return;
      section = name;
      for (const entry of sessions.values()) if (!entry.profiling) await start(entry);
    },
    async end() {
      if (!PROFILE || !section) return [];
      for (const entry of sessions.values()) if (entry.profiling) await stop(entry);
      mkdirSync(dir, { recursive: true });
      const written = stopped.splice(0).map(({ name, profile }) => {
        const file = join(dir, `${section}-${name}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        return file;
      });
      section = undefined;
      return written;
    },
  };
}

/**
 * The invitees of `twoTabs` live in a second tab: Node starts them there, runs the inviters
 * here, then collects the arrival times there and pairs them with the start times by tag.
 */
async function runTwoTabs(openPage, page, params) {
  const other = await openPage();
  try {
    const tag = Math.random().toString(36).slice(2, 7);
    const ids = { pluginId: `bench-tab-plugin-${tag}`, rawId: `bench-tab-raw-${tag}` };
    await other.evaluate((serveParams) => window.bench.run('serve', serveParams), ids);
    let result;
    let arrivals;
    try {
      result = await page.evaluate((runParams) => window.bench.run('twoTabs', runParams), { ...params, pluginInvitee: ids.pluginId, rawInvitee: ids.rawId });
    } finally {
      arrivals = await other.evaluate(() => window.bench.run('collect'));
    }
    const oneWay = (starts) => starts.map(({ data, start }) => arrivals[data] - start);
    return { reps: result.reps, warmup: result.warmup, delivery: { plugin: oneWay(result.starts.plugin), raw: oneWay(result.starts.raw) }, roundTrip: result.roundTrip };
  } finally {
    await other.close().catch(() => {});
  }
}

// ---- the companion server: its mailbox and its capacity ----------------------------------------

/** The companion server the `mailbox` section runs against (open: tokens do not change the mailbox), if that section runs. */
async function startMailboxServer() {
  if (!SECTIONS.some((section) => section.companion && (!ONLY || ONLY.has(section.name)))) return undefined;
  const server = await startCompanionServer({ options: { port: 0, host: '127.0.0.1', path: '/peerjs', aliveTimeoutMs: 15_000 } });
  teardowns.push(() => server.stop());
  log(`companion PeerServer (60 s mailbox) on 127.0.0.1:${server.port}`);
  return server;
}

/** Two open companion servers on one redis-server, for the `clusterDelivery` section, if it runs. */
async function startClusterPair() {
  if (!SECTIONS.some((section) => section.cluster && (!ONLY || ONLY.has(section.name)))) return undefined;
  const redis = await startRedisServer();
  teardowns.push(() => redis.stop());
  const options = { port: 0, host: '127.0.0.1', path: '/peerjs', aliveTimeoutMs: 15_000, redisUrl: redis.url };
  const [a, b] = await Promise.all([startCompanionServer({ options }), startCompanionServer({ options })]);
  teardowns.push(() => a.stop(), () => b.stop());
  log(`cluster of two companion servers on 127.0.0.1:${a.port} and :${b.port}, redis-server on :${redis.port}`);
  return { portA: a.port, portB: b.port };
}

/** Section `capacity`: the Node load generator against one companion server process, before the browser starts. */
async function runCapacity() {
  if (ONLY && !ONLY.has('capacity')) return {};
  log('section capacity {"stages":[2500,10000],"pairs":200}');
  const began = Date.now();
  try {
    const result = await measureCapacity({ stages: [2500, 10_000], pairs: 200, timeLimitMs: Math.min(120_000, TIME_LIMIT_MS / 4), log });
    log(`section capacity done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return { result };
  } catch (error) {
    log(`section capacity FAILED: ${error?.message ?? error}`);
    return { error: String(error?.message ?? error) };
  }
}

/** Section `serverFlood`: an honest round trip through one companion server without and during a flood from 10 registered clients. */
async function runServerFlood() {
  if (ONLY && !ONLY.has('serverFlood')) return {};
  log('section serverFlood {"attackers":10,"reps":100,"floodMs":10000}');
  const began = Date.now();
  try {
    const result = await measureServerFlood({ attackers: 10, reps: 100, floodMs: 10_000, log });
    log(`section serverFlood done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return { result };
  } catch (error) {
    log(`section serverFlood FAILED: ${error?.message ?? error}`);
    return { error: String(error?.message ?? error) };
  }
}

// ---- several companion servers as one cluster over Redis ---------------------------------------

/** Section `cluster`: Node clients against three node processes on one redis-server, before the browser starts. */
async function runCluster() {
  if (ONLY && !ONLY.has('cluster')) return {};
  log('section cluster {"nodes":3,"reps":300,"pairs":100,"idlePerNode":3000,"failoverClients":200}');
  const began = Date.now();
  try {
    const result = await measureCluster({ timeLimitMs: Math.min(120_000, TIME_LIMIT_MS / 4), log });
    log(`section cluster done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return { result };
  } catch (error) {
    log(`section cluster FAILED: ${error?.message ?? error}`);
    return { error: String(error?.message ?? error) };
  }
}

/** Rows of the cluster section: in the latency row, plugin = across nodes, raw = within one node. */
function clusterFigures({ cluster }) {
  if (!cluster) return [];
  const kib = 1024;
  const across = stats(cluster.roundTrip.across);
  const within = stats(cluster.roundTrip.within);
  const { memory, registrations, perNode } = cluster.idle;
  const reached = stats(cluster.failover.reached);
  const reopened = stats(cluster.failover.reopened);
  const restart = stats(cluster.redisRestart.samples);
  return [
    {
      figure: '12. Cluster: OFFER→ANSWER round trip, across nodes (plugin) vs within one (raw)',
      unit: 'ms',
      n: across.n,
      plugin: across,
      raw: within,
      ratio: across.median / within.median,
      target: 'info',
      note: `Node clients speaking the PeerServer protocol, ${cluster.nodes} node processes, one redis-server, 127.0.0.1; across = client on node a → client on node b and back, through Redis both ways; interleaved reps`,
    },
    {
      figure: '12. Cluster: offers routed / s across nodes (through Redis)',
      unit: '/s',
      plugin: { median: cluster.relay.acrossPerSecond },
      raw: { median: cluster.relay.withinPerSecond },
      ratio: cluster.relay.acrossPerSecond / cluster.relay.withinPerSecond,
      target: 'info',
      note: `raw = within one node of the same cluster; ${cluster.relay.pairs} pairs, ${cluster.relay.window} in flight each, ${cluster.relay.payloadBytes} B per OFFER, ${cluster.relay.ms / 1000} s each`,
    },
    {
      figure: '12. Cluster: idle registered clients held per node',
      unit: 'count',
      plugin: { median: perNode },
      target: 'info',
      note: `on each of ${cluster.idle.nodes} nodes at once; node RSS ${memory.map((node) => `${(node.rssBefore / kib / kib).toFixed(1)} → ${(node.rssAfter / kib / kib).toFixed(1)} MiB`).join(', ')}; registrations (claimed in Redis) ${registrations.map((stage) => `${stage.perSecond.toFixed(0)}/s`).join(', ')}`,
    },
    {
      figure: '12. Cluster: node memory per idle client',
      unit: 'KiB',
      plugin: { median: memory.reduce((sum, node) => sum + node.rssPerClientBytes, 0) / memory.length / kib },
      target: 'info',
      note: `mean RSS growth per client over the nodes (${memory.map((node) => (node.rssPerClientBytes / kib).toFixed(1)).join(', ')} KiB); JS heap ${memory.map((node) => (node.heapPerClientBytes / kib).toFixed(1)).join(', ')} KiB each`,
    },
    {
      figure: '12. Cluster: SIGKILLed node → its clients reachable on another',
      unit: 'ms',
      n: reached.n,
      plugin: reached,
      target: 'info',
      note: `${cluster.failover.clients} clients; from the kill to an OFFER from a client of a surviving node reaching each (re-registered: median ${reopened.median.toFixed(0)} ms, max ${reopened.max.toFixed(0)} ms); clients reconnect at once (the plugin adds its backoff), max ${reached.max.toFixed(0)} ms`,
    },
    {
      figure: '12. Cluster: Redis restarted (empty) → OFFER across nodes delivered',
      unit: 'ms',
      n: restart.n,
      plugin: restart,
      target: 'info',
      note: `redis-server SIGKILLed, down ${cluster.redisRestart.downMs} ms, started again without its data; from ready to the OFFER (sent at that moment) reaching the other node's client: ${cluster.redisRestart.samples.map((ms) => ms.toFixed(0)).join(', ')} ms; the nodes' reconnect backoff (node-redis default: doubling from 50 ms to 2 s, plus up to 200 ms jitter) is most of it`,
    },
  ];
}

/** Rows of the mailbox and capacity sections. */
function serverFigures({ mailbox, capacity, serverFlood }) {
  const rows = [];
  if (mailbox) {
    const plugin = stats(mailbox.samples);
    rows.push({
      figure: '5b. Mailbox: redelivery (connectUser → received$), companion server',
      unit: 'ms',
      n: plugin?.n,
      plugin,
      target: '< 1000 ms',
      met: plugin && verdict(plugin.median < 1000, plugin.p95 < 1000),
      note: `invitees came online ${mailbox.offlineMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s after the invitation`,
    });
    const { startsMs, windowMs } = mailbox.attempts;
    const gaps = startsMs.slice(1).map((at, index) => at - startsMs[index]);
    const perMinute = gaps.length > 0 ? 60_000 / (gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length) : (startsMs.length * 60_000) / windowMs;
    rows.push({
      figure: '5b. Mailbox: connect attempts / min, 1 queued offline invitee',
      unit: '/min',
      plugin: { median: perMinute },
      target: '≈ 1/min',
      met: verdict(perMinute <= 1.5),
      note: `attempts started at ${startsMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s of a ${(windowMs / 1000).toFixed(0)} s window; per minute = 60 s / mean gap`,
    });
  }
  if (capacity) {
    const kib = 1024;
    const held = capacity.memory.at(-1);
    const lastStage = capacity.registrations.at(-1);
    rows.push({
      figure: '10. Capacity: idle registered clients held (tokens required)',
      unit: 'count',
      plugin: { median: capacity.clients },
      target: 'info',
      note: `server RSS ${capacity.memory.map((reading) => `${reading.clients}: ${(reading.rss / kib / kib).toFixed(1)} MiB`).join(', ')}; CPU ${(capacity.idleCpuShare * 100).toFixed(1)} % of a core with a heartbeat each per 5 s`,
    });
    rows.push({
      figure: '10. Capacity: server memory per idle client',
      unit: 'KiB',
      plugin: { median: capacity.rssPerClientBytes / kib },
      target: 'info',
      note: `RSS slope between ${capacity.memory[1].clients} and ${held.clients} clients; JS heap ${(capacity.heapPerClientBytes / kib).toFixed(1)} KiB each`,
    });
    rows.push({
      figure: '10. Capacity: registrations / s (token checked)',
      unit: '/s',
      plugin: { median: lastStage.perSecond },
      target: 'info',
      note: `stages: ${capacity.registrations.map((stage) => `${stage.count} in ${(stage.elapsedMs / 1000).toFixed(1)} s`).join(', ')}; 200 handshakes in flight`,
    });
    rows.push({
      figure: '10. Capacity: offers relayed / s',
      unit: '/s',
      plugin: { median: capacity.relayedPerSecond },
      target: 'info',
      note: `${capacity.relay.pairs} sender → receiver pairs, ${capacity.relay.window} in flight each, ${capacity.relay.payloadBytes} B per OFFER, ${capacity.relay.ms / 1000} s, beside the idle clients`,
    });
  }
  if (serverFlood) {
    const quiet = stats(serverFlood.quiet);
    const during = stats(serverFlood.during);
    const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
    rows.push({
      figure: '10b. Server flood: honest OFFER→ANSWER round trip, during a flood (plugin) vs without (raw)',
      unit: 'ms',
      n: during.n,
      plugin: during,
      raw: quiet,
      ratio: during.median / quiet.median,
      target: 'info',
      note: `${serverFlood.attackers} registered attackers, default limits, ${serverFlood.floodMs / 1000} s: ${serverFlood.sent} OFFERs sent, ${serverFlood.floodReached} reached the honest receiver; ${serverFlood.cutOffs} cut-offs, ${serverFlood.refusedRegistrations} of ${serverFlood.registrations} registrations refused; server RSS ${mib(serverFlood.rssBefore)} → ${mib(serverFlood.rssAfter)} MiB (after a GC)`,
    });
  }
  return rows;
}

/**
 * One user in two tabs of this profile (the first to connect holds the registration), invited
 * from the bench page: each invitation rings in both, so the delivery to the tab that works
 * through the holder is measured against the delivery to the holder, invitation by invitation.
 * Then the takeover: the holder's tab is closed, and an invitation sent at once must ring in
 * the other; measured from just before the close to the ring, on a fresh user each time.
 */
async function runUserTabs(openPage, page, { reps, warmup, takeoverReps }) {
  const tag = Math.random().toString(36).slice(2, 7);
  const bench = (target, name, params) => target.evaluate((section, sectionParams) => window.bench.run(section, sectionParams), name, params);
  const arrival = async (tab, data) => {
    await tab.waitForFunction((key) => window.userTabArrivals?.[key] !== undefined, { timeout: 30_000, polling: 5 }, data).catch((error) => {
      throw new Error(`${data.replace(/\.+$/, '')} did not ring in a tab of the user: ${error.message}`);
    });
    return bench(tab, 'userTabArrival', { data });
  };
  const openUserTab = async (userId) => {
    const tab = await openPage();
    const environment = await bench(tab, 'userTabServe', { userId });
    return { tab, environment };
  };
  try {
    const userId = `bench-user-tabs-${tag}`;
    const holder = await openUserTab(userId);
    const follower = await openUserTab(userId);
    const delivery = { holder: [], follower: [] };
    try {
      for (let rep = 0; rep < warmup + reps; rep += 1) {
        const data = `user-tabs-${rep}`.padEnd(200, '.');
        const start = await bench(page, 'tabsSend', { invitee: userId, data });
        const [atHolder, atFollower] = await Promise.all([arrival(holder.tab, data), arrival(follower.tab, data)]);
        if (rep < warmup) continue;
        delivery.holder.push(atHolder - start);
        delivery.follower.push(atFollower - start);
      }
    } finally {
      for (const { tab } of [follower, holder]) {
        await bench(tab, 'userTabClose').catch(() => {});
        await tab.close().catch(() => {});
      }
    }
    log(`userTabs: delivery done (${delivery.follower.length} reps); takeover`);
    const takeover = [];
    for (let rep = 0; rep < takeoverReps; rep += 1) {
      const takeoverUser = `bench-user-takeover-${tag}-${rep}`;
      const first = await openUserTab(takeoverUser);
      const second = await openUserTab(takeoverUser);
      try {
        const data = `takeover-${rep}`.padEnd(200, '.');
        const closedAt = await bench(page, 'wallNow');
        await first.tab.close();
        await bench(page, 'tabsSend', { invitee: takeoverUser, data });
        takeover.push((await arrival(second.tab, data)) - closedAt);
      } finally {
        await bench(second.tab, 'userTabClose').catch(() => {});
        await second.tab.close().catch(() => {});
      }
    }
    return { reps, warmup, delivery, takeover, environment: holder.environment };
  } finally {
    await bench(page, 'tabsInviterClose').catch(() => {});
  }
}

// ---- figures and the table ---------------------------------------------------------------------

/** One row per figure: plugin and raw statistics, the ratio, the target and whether it is met. */
function figuresOf(results, size) {
  const rows = [];
  const latency = (figure, pluginSamples, rawSamples, target) => {
    const plugin = stats(pluginSamples);
    const raw = rawSamples && stats(rawSamples);
    const ratio = plugin && raw ? plugin.median / raw.median : undefined;
    const ratioP95 = plugin && raw ? plugin.p95 / raw.p95 : undefined;
    let met;
    if (target && plugin) met = verdict(target.check(plugin.median, ratio), target.check(plugin.p95, ratioP95));
    rows.push({ figure, unit: 'ms', n: plugin?.n, plugin, raw, ratio, ratioP95, target: target?.text, met });
  };
  const ratioAtMost = (limit) => ({ text: `≤ ${limit}× raw`, check: (_value, ratio) => ratio <= limit });

  const { warm, cold, fanout, redelivery, throughput, memory } = results;
  if (warm) {
    const { indexeddb, memory: inMemory } = warm.results;
    if (indexeddb) latency('1. Warm delivery', indexeddb.delivery.plugin, indexeddb.delivery.raw, ratioAtMost(1.2));
    if (inMemory) latency("1. Warm delivery, storage: 'memory'", inMemory.delivery.plugin, inMemory.delivery.raw, ratioAtMost(1.2));
    if (indexeddb) latency('2. Warm round trip (send→accept→accepted$)', indexeddb.roundTrip.plugin, indexeddb.roundTrip.raw);
    if (inMemory) latency("2. Warm round trip, storage: 'memory'", inMemory.roundTrip.plugin, inMemory.roundTrip.raw);
  }
  if (results.twoTabs) {
    const { delivery, roundTrip } = results.twoTabs;
    latency('1. Warm delivery, invitee in a 2nd tab', delivery.plugin, delivery.raw, ratioAtMost(1.2));
    latency('2. Warm round trip, invitee in a 2nd tab', roundTrip.plugin, roundTrip.raw);
  }
  if (results.userTabs) {
    const { delivery, takeover, environment } = results.userTabs;
    latency('11. One user, 2 tabs: delivery to the tab working through the holder (raw column: to the holder)', delivery.follower, delivery.holder);
    latency('11. One user, 2 tabs: holder tab closed → next invitation rings in the other', takeover, undefined, { text: 'about 1 s', check: (value) => value < 1500 });
    rows.at(-1).note = `cold: the inviter never reached this user before; crossOriginIsolated ${environment.crossOriginIsolated}, performance.now() step ${(environment.timerResolutionMs * 1000).toFixed(1)} µs`;
  }
  if (cold) latency('3. Cold delivery (connect + first message)', cold.plugin, cold.raw, ratioAtMost(1.1));
  if (fanout) {
    for (const mode of ['warm', 'cold']) {
      for (const result of fanout.results) latency(`4. Fan-out ${mode}, N=${result.size}`, result[mode].plugin, result[mode].raw);
      const first = fanout.results.find((result) => result.size === 1);
      const last = fanout.results.find((result) => result.size === 50);
      if (first && last) {
        const growth = (side, q) => stats(last[mode][side])[q] / stats(first[mode][side])[q];
        const perInvitee = (side) => ((stats(last[mode][side]).median - stats(first[mode][side]).median) / (last.size - first.size)).toFixed(2);
        const pluginGrowth = { median: growth('plugin', 'median'), p95: growth('plugin', 'p95') };
        const rawGrowth = { median: growth('raw', 'median'), p95: growth('raw', 'p95') };
        rows.push({
          figure: `4. Fan-out ${mode} growth N=50 / N=1`,
          unit: '×',
          plugin: pluginGrowth,
          raw: rawGrowth,
          ratio: pluginGrowth.median / rawGrowth.median,
          target: '≤ 3× N=1',
          met: verdict(pluginGrowth.median <= 3, pluginGrowth.p95 <= 3),
          note: `each invitee beyond the first adds ${perInvitee('plugin')} ms (plugin), ${perInvitee('raw')} ms (raw), medians`,
        });
      }
    }
  }
  if (redelivery) {
    latency('5. Redelivery (connectUser resolved → received$)', redelivery.samples, undefined, { text: '< 1000 ms', check: (value) => value < 1000 });
    rows.push({
      figure: '5. Connect attempts / min, 1 queued offline invitee',
      unit: '/min',
      plugin: { median: redelivery.attempts.perMinute },
      target: 'info',
      note: `${redelivery.attempts.after - redelivery.attempts.before} attempts in ${(redelivery.attempts.windowMs / 1000).toFixed(1)} s`,
    });
  }
  if (throughput) {
    const rates = (runs) => stats(runs.map((run) => run.rate));
    const raw = rates(throughput.raw);
    for (const storage of ['indexeddb', 'memory']) {
      const plugin = rates(throughput.plugin[storage]);
      rows.push({
        figure: `6. Throughput, ${storage === 'indexeddb' ? 'durable (IndexedDB)' : "storage: 'memory'"}`,
        unit: '/s',
        n: plugin.n,
        plugin: { median: plugin.median, p95: plugin.min },
        raw: { median: raw.median, p95: raw.min },
        ratio: plugin.median / raw.median,
        target: storage === 'indexeddb' ? '≥ 1000/s' : undefined,
        met: storage === 'indexeddb' ? verdict(plugin.median >= 1000, plugin.min >= 1000) : undefined,
        note: 'p95 column: worst of the runs',
      });
    }
    const acked = stats(throughput.plugin.indexeddb.map((run) => (throughput.count * 1000) / run.ackedMs));
    rows.push({
      figure: '6. Throughput, durable, until saved and acked',
      unit: '/s',
      n: acked.n,
      plugin: { median: acked.median, p95: acked.min },
      target: 'info',
      note: 'every sendInvitation resolved (saved at the inviter) and every ack back (saved at the invitee); p95 column: worst',
    });
  }
  const kib = 1024;
  rows.push({ figure: '7. Size: dist/peer-invitation.iife.js', unit: 'B gz', plugin: { median: size.iife.gzip }, target: '≤ 45 KiB gz', met: verdict(size.iife.gzip <= 45 * kib) });
  rows.push({ figure: '7. Size: plugin own code (deps external)', unit: 'B gz', plugin: { median: size.ownCode.gzip }, target: '≤ 8 KiB gz', met: verdict(size.ownCode.gzip <= 8 * kib) });
  rows.push({ figure: '7. Size: PeerJS alone', unit: 'B gz', raw: { median: size.peerjs.gzip }, target: 'info' });
  const { basicApp } = size;
  rows.push({
    figure: '7. Size: an app of the basic API (ES module, deps bundled)',
    unit: 'B gz',
    plugin: { median: basicApp.gzip },
    target: 'info',
    note: `of its minified bytes, call history ${basicApp.history}, advanced mode ${basicApp.advancedMode}, push ${basicApp.push}, busy ${basicApp.busy}`,
  });
  if (memory) {
    const [before, ...after] = memory.snapshots;
    for (const snapshot of after) {
      const delta = snapshot.heapUsed - before.heapUsed;
      const clean =
        delta < 1024 * kib &&
        snapshot.peerConnections <= before.peerConnections &&
        snapshot.inviter.openConnections <= before.inviter.openConnections &&
        snapshot.invitee.openConnections <= before.invitee.openConnections;
      rows.push({
        figure: `8. Heap growth after ${snapshot.invitations} send+accept`,
        unit: 'KiB',
        plugin: { median: delta / kib },
        target: 'no leak',
        met: verdict(clean),
        note:
          `heap ${(before.heapUsed / kib / kib).toFixed(2)} → ${(snapshot.heapUsed / kib / kib).toFixed(2)} MiB; ` +
          `RTCPeerConnections ${before.peerConnections} → ${snapshot.peerConnections}; ` +
          `openConnections ${before.inviter.openConnections}+${before.invitee.openConnections} → ${snapshot.inviter.openConnections}+${snapshot.invitee.openConnections}`,
      });
    }
    rows.push({
      figure: '8. RTCPeerConnections open after dispose',
      unit: 'count',
      plugin: { median: memory.peerConnectionsAfterDispose },
      target: 'info',
      note: `${memory.peerConnectionsBeforeDispose} before dispose`,
    });
  }
  if (results.flood) {
    const { honest, attacker, victim } = results.flood;
    const without = stats(honest.without);
    const during = stats(honest.during);
    rows.push({
      figure: '9. Honest invitation during a flood (send → received$)',
      unit: 'ms',
      n: during?.n,
      plugin: during,
      raw: without,
      ratio: during && without ? during.median / without.median : undefined,
      target: '< 1000 ms',
      met: during ? verdict(during.median < 1000, during.p95 < 1000) : undefined,
      note: 'raw column: the same invitation without a flood; ratio = during / without',
    });
    rows.push({
      figure: '9. Flood: what got through',
      unit: 'count',
      plugin: { median: attacker.rang },
      target: 'info',
      note: `${attacker.written} of ${attacker.framesOffered} frames written before the victim cut the peer off (${attacker.cutOffAfterMs === null ? 'never' : `after ${attacker.cutOffAfterMs.toFixed(0)} ms`}); ${attacker.rang} rang`,
    });
    rows.push({
      figure: '9. Victim after the flood',
      unit: 'KiB',
      plugin: { median: victim.storedBytes / kib },
      target: 'info',
      note: `${victim.invitationsHeld} invitations held, ${(victim.storedBytes / kib).toFixed(1)} KiB stored in IndexedDB, JS heap ${(victim.heapUsedBytes / kib / kib).toFixed(2)} MiB`,
    });
  }
  if (results.callState) latency('13. Advanced mode: a call-state change (quit/join) reaching all 3 other members of a 4-member call', results.callState.times);
  rows.push(...serverFigures(results));
  rows.push(...clusterFigures(results));
  if (results.clusterDelivery) {
    const { cold, warm } = results.clusterDelivery;
    latency('12. Cluster: cold delivery in Chromium, across two servers (raw column: within one)', cold.across, cold.within);
    latency('12. Cluster: warm delivery in Chromium, across two servers (raw column: within one)', warm.across, warm.within);
  }
  return rows;
}

function verdict(medianMet, p95Met = medianMet) {
  if (medianMet && p95Met) return 'yes';
  return medianMet ? 'median only' : 'NO';
}

function printTable(rows) {
  const number = (value, unit) => {
    if (value === undefined || !Number.isFinite(value)) return '—';
    if (unit === 'B gz') return `${value} (${(value / 1024).toFixed(1)} KiB)`;
    if (unit === '×') return `${value.toFixed(2)}×`;
    if (Math.abs(value) >= 100) return value.toFixed(0);
    return value.toFixed(2);
  };
  const header = ['figure', 'unit', 'n', 'plugin median', 'plugin p95', 'raw median', 'raw p95', 'ratio', 'target', 'met?'];
  const lines = rows.map((row) => [
    row.figure,
    row.unit,
    row.n === undefined ? '' : String(row.n),
    number(row.plugin?.median, row.unit),
    number(row.plugin?.p95, row.unit),
    number(row.raw?.median, row.unit),
    number(row.raw?.p95, row.unit),
    row.ratio === undefined ? '—' : `${row.ratio.toFixed(2)}×`,
    row.target ?? '—',
    row.met ?? '—',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column].length)));
  const format = (cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  const notes = rows.filter((row) => row.note).map((row) => `  ${row.figure}: ${row.note}`);
  return [format(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...lines.map(format), '', 'Notes:', ...notes].join('\n');
}

main().then(
  async (code) => {
    clearTimeout(hardStop);
    await teardown();
    process.exit(code);
  },
  async (error) => {
    console.error(error);
    clearTimeout(hardStop);
    await teardown();
    process.exit(1);
  },
);
