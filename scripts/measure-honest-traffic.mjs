// A measurement, not a test: what an honest plugin sends the companion server in its heaviest
// cases, against the per-client rates of DEFAULT_SERVER_LIMITS (README, Security, "The server").
// Run inside ../shared/netns-run after `npm run build`:  ../shared/netns-run node scripts/measure-honest-traffic.mjs
//   (1) fan-out: one inviter plugin sends ONE invitation to 100 invitee plugins (4 pages), until all are `delivered`;
//   (2) reconnect storm: 50 connected plugins (2 pages), one owing an invitation to 49 absent users; the server process is killed (SIGKILL) and
//       restarted on the same port, until all 50 are `connected` again.
// The server's /metrics has totals by type but nothing per client, so the pages count for themselves:
// WebSocket is wrapped before the plugin loads; every frame sent is logged with its type, its
// client id (the `id` of the socket's URL) and a timestamp; each new socket counts as one `register`.
// Per client and kind it reports the total, the peak in any 1 s window and the largest burst (frames
// within 100 ms of the one before), with /metrics as the cross-check. Bounded: 4 minutes at most.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { CHROME_PATH, CHROMIUM_ARGS } from '../test/server/browsers.mjs';
import { DEFAULT_SERVER_LIMITS } from '../dist/server/index.js';
import { startCompanionServer } from './companion-server-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const PORT = Number(process.env.MEASURE_PORT ?? 9231);
const PATH = '/peerjs';
const METRICS_TOKEN = 'measure-honest-traffic-metrics';
const INVITEES = 100;
const STORM = 50;
const BURST_GAP_MS = 100;
const DEFAULTS = DEFAULT_SERVER_LIMITS.rates;
const started = Date.now();
const log = (message) => console.log(`[measure ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);

const teardowns = [];
const teardown = async () => {
  for (const stop of teardowns.splice(0).reverse()) await stop().catch(() => {});
};
const hardStop = setTimeout(async () => {
  console.error('measure: over 4 minutes; stopping');
  await teardown();
  process.exit(2);
}, 240_000);

const iife = readFileSync(join(root, 'dist/peer-invitation.iife.js'));
// Runs before the plugin: counts every frame and every socket, per client id.
const counter = `
window.__frames = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(url, protocols) {
    super(url, protocols);
    this.__id = new URL(url, location.href).searchParams.get('id') ?? '?';
    window.__frames.push({ id: this.__id, kind: 'register', t: Date.now() });
  }
  send(data) {
    let kind = 'other';
    try { kind = String(JSON.parse(data).type).toLowerCase(); } catch {}
    window.__frames.push({ id: this.__id, kind, t: Date.now() });
    return super.send(data);
  }
};`;
const html = `<!doctype html><meta charset="utf-8"><script>${counter}</script><script src="/iife.js"></script>`;

function serve() {
  return new Promise((resolve) => {
    const server = createServer((request, response) => {
      if (request.url === '/iife.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(iife);
      else response.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function startServer() {
  const server = await startCompanionServer({ options: { port: PORT, host: '127.0.0.1', path: PATH, metricsToken: METRICS_TOKEN } });
  return server;
}

async function metrics() {
  const response = await fetch(`http://127.0.0.1:${PORT}${PATH}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await response.text();
  return text.split('\n').filter((line) => /^peer_invitation_(messages_relayed|messages_parked|refusals|cut_offs)/.test(line));
}

/** In a page: plugins for `ids`, connected; resolves when all are. */
function connectPlugins(page, ids, port) {
  return page.evaluate(
    async (ids, port, path) => {
      window.plugins ??= {};
      // One after another, as separate users' pages would; all at once from one renderer, some time out.
      for (const id of ids) {
        {
          const plugin = PeerInvitation.createSignalingPlugin({ storage: 'memory', tabs: false, peer: { host: '127.0.0.1', port, path, config: { iceServers: [] } } });
          window.plugins[id] = plugin;
          window.states ??= {};
          plugin.connectionState$.subscribe((state) => (window.states[id] = state));
          plugin.invitationReceived$.subscribe(() => {});
          await plugin.connectUser({ id, name: id });
        }
      }
    },
    ids,
    port,
    PATH,
  );
}

/** Per client and kind: total, peak in any 1 s window, largest burst (gaps under BURST_GAP_MS). */
function summarise(frames, from, to) {
  const byClientKind = new Map();
  for (const frame of frames) {
    if (frame.t < from || frame.t > to) continue;
    const key = `${frame.kind}\n${frame.id}`;
    if (!byClientKind.has(key)) byClientKind.set(key, []);
    byClientKind.get(key).push(frame.t);
  }
  const perKind = {};
  for (const [key, times] of byClientKind) {
    const [kind, id] = key.split('\n');
    times.sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    let burst = 1;
    for (let i = 1, run = 1; i < times.length; i++) {
      run = times[i] - times[i - 1] < BURST_GAP_MS ? run + 1 : 1;
      burst = Math.max(burst, run);
    }
    const row = (perKind[kind] ??= { clients: 0, total: { max: 0, id: '' }, peak1s: { max: 0, id: '' }, burst: { max: 0, id: '' }, sum: 0 });
    row.clients++;
    row.sum += times.length;
    if (times.length > row.total.max) row.total = { max: times.length, id };
    if (peak > row.peak1s.max) row.peak1s = { max: peak, id };
    if (burst > row.burst.max) row.burst = { max: burst, id };
  }
  return perKind;
}

function printTable(title, perKind) {
  log(title);
  const rows = Object.entries(perKind).map(([kind, row]) => {
    const limit = DEFAULTS[kind];
    return {
      kind,
      clients: row.clients,
      'all clients': row.sum,
      'max total/client': `${row.total.max} (${row.total.id})`,
      'max in 1 s': row.peak1s.max,
      'max burst': row.burst.max,
      default: limit ? `${limit.perSecond}/s, burst ${limit.burst}` : '-',
      'headroom (burst / max in 1 s)': limit ? `×${(limit.burst / row.peak1s.max).toFixed(1)}` : '-',
      'headroom (rate / total)': limit ? `×${((limit.burst + limit.perSecond) / row.total.max).toFixed(1)} in 1 s` : '-',
    };
  });
  console.table(rows);
}

async function waitFor(page, predicate, arg, timeout) {
  await page.waitForFunction(predicate, { timeout, polling: 100 }, arg);
}

async function main() {
  let server = await startServer();
  teardowns.push(() => server.stop());
  const http = await serve();
  teardowns.push(() => new Promise((resolve) => http.close(resolve)));
  const url = `http://127.0.0.1:${http.address().port}/`;
  const browser = await puppeteer.launch({ executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS, protocolTimeout: 180_000 });
  teardowns.push(() => browser.close());
  const openPage = async () => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => log(`page error: ${error}`));
    await page.goto(url, { waitUntil: 'load' });
    return page;
  };
  const framesOf = async (pages) => (await Promise.all(pages.map((page) => page.evaluate(() => window.__frames)))).flat();

  // ---- (1) fan-out to 100 ----
  log(`fan-out: 1 inviter + ${INVITEES} invitees in 4 pages, server on 127.0.0.1:${PORT}`);
  const inviterPage = await openPage();
  const inviteePages = [];
  const invitees = Array.from({ length: INVITEES }, (_, i) => `invitee-${i}`);
  for (let p = 0; p < 3; p++) inviteePages.push(await openPage());
  const split = [invitees.slice(0, 34), invitees.slice(34, 67), invitees.slice(67)];
  await Promise.all(inviteePages.map((page, p) => connectPlugins(page, split[p], PORT)));
  await connectPlugins(inviterPage, ['inviter'], PORT);
  log('all 101 connected; sending one invitation to 100');
  const pages1 = [inviterPage, ...inviteePages];
  const sendAt = Date.now();
  await inviterPage.evaluate((invitees) => {
    window.delivered = new Set();
    window.plugins.inviter.inviteeStateChanged$.subscribe(({ invitee, state }) => {
      if (state === 'delivered') window.delivered.add(invitee);
    });
    return window.plugins.inviter.sendInvitation({ inviterName: 'inviter', invitees, type: 1, timeout: 120, data: '' });
  }, invitees);
  await waitFor(inviterPage, (n) => window.delivered.size >= n, INVITEES, 120_000);
  const deliveredAt = Date.now();
  log(`all ${INVITEES} delivered in ${deliveredAt - sendAt} ms; watching 3 s more for trailing candidates`);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const fanFrames = await framesOf(pages1);
  printTable(`fan-out, from the send to 3 s after the last delivery (${deliveredAt - sendAt} ms to deliver all)`, summarise(fanFrames, sendAt, Date.now()));
  printTable('fan-out, whole run (connect included)', summarise(fanFrames, 0, Date.now()));
  log(`server /metrics after the fan-out:\n  ${(await metrics()).join('\n  ')}`);
  for (const page of pages1) await page.close();

  // ---- (2) reconnect storm ----
  log(`reconnect storm: ${STORM} plugins in 2 pages; server restarted for a clean count`);
  await server.stop();
  server = await startServer();
  const stormPages = [await openPage(), await openPage()];
  const stormIds = Array.from({ length: STORM }, (_, i) => `storm-${i}`);
  await Promise.all(stormPages.map((page, p) => connectPlugins(page, stormIds.slice(p * 25, p * 25 + 25), PORT)));
  // One of them owes deliveries: an invitation to 49 users not connected, so its reconnect resends to each.
  await stormPages[0].evaluate(() =>
    window.plugins['storm-0'].sendInvitation({ inviterName: 'storm-0', invitees: Array.from({ length: 49 }, (_, i) => `absent-${i}`), type: 1, timeout: 120, data: '' }),
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  log(`all ${STORM} connected, storm-0 owing 49 deliveries; SIGKILL to the server`);
  const killAt = Date.now();
  await server.kill();
  await Promise.all(stormPages.map((page) => waitFor(page, () => Object.values(window.states).every((s) => s !== 'connected'), undefined, 30_000)));
  log(`all ${STORM} saw the loss in ${Date.now() - killAt} ms; restarting on port ${PORT}`);
  server = await startServer();
  const restartAt = Date.now();
  await Promise.all(stormPages.map((page) => waitFor(page, () => Object.values(window.states).every((s) => s === 'connected'), undefined, 120_000)));
  const reconnectedAt = Date.now();
  log(`all ${STORM} connected again ${reconnectedAt - restartAt} ms after the restart; watching 3 s more`);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const stormFrames = await framesOf(stormPages);
  printTable(`reconnect storm, from the kill to 3 s after all reconnected (${reconnectedAt - killAt} ms)`, summarise(stormFrames, killAt, Date.now()));
  log(`server /metrics after the storm (restarted server):\n  ${(await metrics()).join('\n  ')}`);
}

try {
  await main();
} finally {
  await teardown();
  clearTimeout(hardStop);
}
