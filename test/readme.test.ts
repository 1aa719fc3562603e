/**
 * README's examples, run as written. The test reads README.md, starts the server
 * command its Quick start gives (the real `peer-invitation-server` from dist/, on a
 * free port instead of 9000), serves each example block the way a reader's app
 * would (the script-tag page beside node_modules/peer-invitation/dist/, the ES
 * module bundled by esbuild), opens the pages in browser contexts of their own,
 * and waits until an invitation rings and is accepted. Every html/js/ts block of
 * README carries a marker (test/readme-blocks.ts): what is not marked `template`
 * runs here, and a new runnable block needs its scenario below.
 */
import { expect } from '@esm-bundle/chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { fencedBlocks, fetchDoc, type ReadmeBlock } from './readme-blocks.js';

const CODE = new Set(['html', 'js', 'javascript', 'ts', 'typescript']);
/** The runnable examples; each is run by a scenario below. */
const RUNNABLE = ['page script-tag', 'module es-module'];
/** Generous: a cold connection takes tens of milliseconds here; this only bounds a failure. */
const DEADLINE_MS = 30_000;

interface Run {
  handle: number;
  peerPort: number;
  origin: string;
}
interface PageState {
  console: string[];
  dialogs: string[];
  errors: string[];
}
interface Readme {
  blocks: ReadmeBlock[];
  /** The arguments of README's `npx peer-invitation-server` line. */
  serverArgs: string[];
  /** The port that line gives, which the examples must name too. */
  port: number;
}

let readmeText: Promise<Readme> | undefined;
function readme(): Promise<Readme> {
  readmeText ??= fetchDoc().then((markdown) => {
    const blocks = fencedBlocks(markdown);
    const servers = blocks.filter((block) => block.marker === 'server');
    expect(servers, 'README has one block marked <!-- example: server -->').to.have.length(1);
    const line = servers[0]!.code.split('\n').find((text) => text.trim().startsWith('npx peer-invitation-server'));
    expect(line, 'the server block has an `npx peer-invitation-server` line').to.be.a('string');
    const serverArgs = line!.trim().split(/\s+/).slice(2);
    const port = Number(serverArgs[serverArgs.indexOf('--port') + 1]);
    expect(serverArgs.includes('--port') && Number.isInteger(port), 'the server command gives --port').to.equal(true);
    return { blocks, serverArgs, port };
  });
  return readmeText;
}

async function example(marker: string): Promise<string> {
  const { blocks, port } = await readme();
  const found = blocks.filter((block) => block.marker === marker);
  expect(found, `README has one block marked <!-- example: ${marker} -->`).to.have.length(1);
  const { code } = found[0]!;
  // The one change from README: the server runs on a free port, not on the one README names.
  expect(code.split(`port: ${port}`).length - 1, `${marker} names the server's port ${port} once`).to.equal(1);
  return code;
}

async function start(): Promise<Run> {
  const { serverArgs } = await readme();
  const args = serverArgs.map((arg, index) => (serverArgs[index - 1] === '--port' ? '0' : arg));
  return executeServerCommand('readme', { action: 'start', args });
}

async function open(run: Run, marker: string, query = ''): Promise<number> {
  const { port } = await readme();
  const code = (await example(marker)).replace(`port: ${port}`, `port: ${run.peerPort}`);
  const kind = marker.split(' ')[0];
  const { page } = await executeServerCommand<{ page: number }, Record<string, unknown>>('readme', { action: 'open', handle: run.handle, kind, code, query });
  return page;
}

function state(page: number): Promise<PageState> {
  return executeServerCommand('readme', { action: 'state', page });
}

/** Polls a page until `done` holds; fails at once on a page error, and loudly at the deadline. */
async function waitFor(page: number, done: (current: PageState) => boolean, what: string): Promise<PageState> {
  const giveUpAt = Date.now() + DEADLINE_MS;
  for (;;) {
    const current = await state(page);
    expect(current.errors, `errors in the page while waiting for ${what}`).to.deep.equal([]);
    if (done(current)) return current;
    if (Date.now() > giveUpAt) throw new Error(`no ${what} within ${DEADLINE_MS} ms; the page so far: ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('README examples, run as written', function () {
  this.timeout(90_000);
  let run: Run | undefined;
  afterEach(async () => {
    if (run) await executeServerCommand('readme', { action: 'stop', handle: run.handle });
    run = undefined;
  });

  it('marks every code block, and runs every block of the Quick start', async () => {
    const { blocks } = await readme();
    const code = blocks.filter((block) => CODE.has(block.lang));
    const unmarked = code.filter((block) => block.marker === undefined).map((block) => `line ${block.line} (${block.section})`);
    expect(unmarked, 'code blocks without <!-- example: page NAME | module NAME | template -->').to.deep.equal([]);
    const runnable = code.filter((block) => block.marker !== 'template').map((block) => block.marker);
    expect(runnable.sort()).to.deep.equal([...RUNNABLE].sort());
    const quickStart = blocks.filter((block) => ['Quick start', 'Script tag', 'ES module'].includes(block.section));
    expect(quickStart.filter((block) => block.marker === 'template' || block.marker === undefined), 'Quick start blocks that do not run').to.deep.equal([]);
  });

  it('script tag: the page as bob and as alice; alice invites, bob accepts, alice hears it', async () => {
    run = await start();
    const bob = await open(run, 'page script-tag', '?user=bob');
    const alice = await open(run, 'page script-tag', '?user=alice');
    const asked = await waitFor(bob, (page) => page.dialogs.length > 0, "bob's confirm()");
    expect(asked.dialogs).to.deep.equal(['alice is calling. Accept?']);
    const heard = await waitFor(alice, (page) => page.console.includes('bob accepted'), "'bob accepted' in alice's console");
    expect(heard.console).to.deep.equal(['bob queued', 'bob delivered', 'bob accepted']);
    expect((await state(bob)).errors).to.deep.equal([]);
  });

  it('ES module: alice invites bob and carol; bob (the script-tag page) accepts', async () => {
    run = await start();
    const bob = await open(run, 'page script-tag', '?user=bob');
    const alice = await open(run, 'module es-module');
    await waitFor(alice, (page) => page.console.includes('connection: connected'), "'connection: connected' in alice's console");
    const asked = await waitFor(bob, (page) => page.dialogs.length > 0, "bob's confirm()");
    expect(asked.dialogs).to.deep.equal(['Alice is calling. Accept?']);
    await waitFor(alice, (page) => page.console.includes('bob accepted'), "'bob accepted' in alice's console");
    expect((await state(bob)).errors).to.deep.equal([]);
  });
});
