// Test-runner command `readme`: runs README's examples as a reader would, in real
// pages of the test's Chromium, against the server command README gives.
//   start { args }   runs `node dist/server/cli.js ...args` (README's `npx peer-invitation-server`
//                    line; `--port 0` picks a free port) and a static server on 127.0.0.1 that plays
//                    the reader's app folder: /node_modules/peer-invitation/dist/* is this repo's dist/
//                    → { handle, peerPort, origin }
//   open  { handle, kind: 'page' | 'module', code, query? }  serves the block (an HTML page as is;
//                    an ES module bundled by esbuild, 'peer-invitation' resolved through package.json)
//                    and opens it in a browser context of its own; every dialog is accepted → { page }
//   state { page }   → { console, dialogs, errors }: what the page logged, asked and threw so far
//   stop  { handle } closes its pages, contexts and both servers (serverStop closes what is left)
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const HOST = '127.0.0.1';
const PACKAGE_DIST = '/node_modules/peer-invitation/dist/';
/** No favicon request (a 404 would be logged as an error of the page). */
const HEAD = '<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<title>README example</title>\n';

/** Settles with `promise`, or after `ms` whatever happens: teardown must not hang a test. */
function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]).finally(() => clearTimeout(timer));
}

/** README's server command as a child process; resolves once it says which port it listens on. */
function startServerCommand(args) {
  const host = args[args.indexOf('--host') + 1];
  if (!args.includes('--host') || host !== HOST) throw new Error(`README's server command must listen on ${HOST} (--host ${HOST}); got ${args.join(' ')}`);
  const child = spawn(process.execPath, [join(root, 'dist/server/cli.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const port = /listening on port (\d+)/.exec(output)?.[1];
      if (port) resolve(Number(port));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => reject(new Error(`peer-invitation-server ${args.join(' ')} exited (${code}) before it listened:\n${output}`)));
  });
  ready.catch(() => {}); // settled below; a late exit after a timeout must not be an unhandled rejection
  return withTimeout(ready, 15_000).then(
    (port) => {
      if (port === undefined) throw new Error(`peer-invitation-server did not say its port within 15 s:\n${output}`);
      return { port, stop };
    },
    async (error) => {
      await stop();
      throw error;
    },
  );
}

/** The reader's app folder: generated pages, and the package's dist/ under node_modules. */
function startStaticServer(files) {
  const server = createServer(async (request, response) => {
    const { pathname } = new URL(request.url ?? '/', `http://${HOST}`);
    const generated = files.get(pathname);
    if (generated) {
      response.writeHead(200, { 'content-type': generated.type, 'cache-control': 'no-store' }).end(generated.body);
      return;
    }
    const file = pathname.startsWith(PACKAGE_DIST) ? normalize(join('dist', decodeURIComponent(pathname.slice(PACKAGE_DIST.length)))) : undefined;
    const info = file?.startsWith(`dist${sep}`) ? await stat(join(root, file)).catch(() => undefined) : undefined;
    if (!info?.isFile()) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${pathname}\n`);
      return;
    }
    response.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream', 'content-length': info.size });
    createReadStream(join(root, file)).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      resolve({
        origin: `http://${HOST}:${server.address().port}`,
        stop: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** An ES module block as a bundler would build it: 'peer-invitation' through this package's `exports`. */
async function bundle(code) {
  const result = await build({
    stdin: { contents: code, resolveDir: root, loader: 'ts', sourcefile: 'readme-example.ts' },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

export function readmePlugin() {
  const runs = new Map();
  const pages = new Map();
  let nextHandle = 1;
  const runOf = (handle) => {
    const run = runs.get(handle);
    if (!run) throw new Error(`no README run with handle ${handle}`);
    return run;
  };
  const actions = {
    async start({ args }) {
      const files = new Map();
      const peer = await startServerCommand(args);
      let site;
      try {
        site = await startStaticServer(files);
      } catch (error) {
        await peer.stop();
        throw error;
      }
      const handle = nextHandle++;
      runs.set(handle, { peer, site, files, pages: new Set() });
      return { handle, peerPort: peer.port, origin: site.origin };
    },
    async open({ handle, kind, code, query = '' }, session) {
      const run = runOf(handle);
      const name = `/example-${run.files.size + 1}`;
      if (kind === 'module') {
        run.files.set(`${name}.js`, { type: 'text/javascript', body: await bundle(code) });
        run.files.set(`${name}.html`, { type: 'text/html', body: `${HEAD}<script type="module" src="${name}.js"></script>\n` });
      } else if (kind === 'page') {
        run.files.set(`${name}.html`, { type: 'text/html', body: HEAD + code });
      } else throw new Error(`unknown example kind ${kind}`);
      const browser = session.browser.getPage(session.id).browser();
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      const entry = { page, context, console: [], dialogs: [], errors: [] };
      const id = nextHandle++;
      pages.set(id, entry);
      run.pages.add(id);
      page.on('console', (message) => {
        entry.console.push(message.text());
        if (message.type() === 'error') entry.errors.push(`console.error: ${message.text()}`);
      });
      page.on('pageerror', (error) => entry.errors.push(String(error)));
      page.on('dialog', (dialog) => {
        entry.dialogs.push(dialog.message());
        dialog.accept().catch(() => {});
      });
      await page.goto(`${run.site.origin}${name}.html${query}`, { waitUntil: 'load' });
      return { page: id };
    },
    async state({ page }) {
      const entry = pages.get(page);
      if (!entry) throw new Error(`no README page ${page}`);
      return { console: [...entry.console], dialogs: [...entry.dialogs], errors: [...entry.errors] };
    },
    async stop({ handle }) {
      const run = runs.get(handle);
      if (!run) return {};
      runs.delete(handle);
      for (const id of run.pages) {
        const entry = pages.get(id);
        pages.delete(id);
        await withTimeout(entry?.page.close().catch(() => {}), 5000);
        await withTimeout(entry?.context.close().catch(() => {}), 5000);
      }
      await Promise.all([run.peer.stop(), run.site.stop()]);
      return {};
    },
  };
  return {
    name: 'readme',
    async executeCommand({ command, payload, session }) {
      if (command !== 'readme') return undefined;
      const action = actions[payload?.action];
      if (!action) throw new Error(`unknown readme action ${payload?.action}`);
      return action(payload, session);
    },
    async serverStop() {
      for (const handle of [...runs.keys()]) await actions.stop({ handle });
    },
  };
}
