// Test-runner commands that drive extra browser pages beside the test's own:
// a second "tab" (or a tab in its own browser context, whose renderer can be
// crashed to act out a tab killed mid-call). Pages are addressed by handle.
// Open pages that must be clicked or photographed with `isolated: true`: each
// then has its own window and stays visible; a background tab of a shared
// window never paints, so puppeteer's click and screenshot would wait forever.
// Waits stay under the runner's 20 s command limit so their own error shows.
// `open` puts the page in the test page's own browser, or with `browser: 'firefox'`
// or `browser: 'chromium'` in that browser: the test's own when it is that one, else
// one this plugin launches on first use (puppeteer-core; Firefox over WebDriver BiDi)
// and closes in serverStop. The test page itself may be Chromium (CDP) or Firefox (BiDi).
// `crash` and `lifecycle` use the DevTools Protocol: Chromium pages only.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import puppeteer from 'puppeteer-core';
import { CHROME_PATH, CHROMIUM_ARGS, FIREFOX_PATH, FIREFOX_PREFS } from './browsers.mjs';


/** Settles with `promise`, or after `ms` whatever happens: teardown must not hang a test. */
function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]).finally(() => clearTimeout(timer));
}

export function pagesPlugin() {
  const pages = new Map();
  let nextHandle = 1;
  const launched = new Map();
  const launchOptions = {
    firefox: { browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS },
    chromium: { executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS },
  };
  const launch = (name) => {
    if (!launched.has(name)) {
      launched.set(name, puppeteer.launch(launchOptions[name]).catch((error) => {
        launched.delete(name); // let the next `open` try again, with its own error
        throw error;
      }));
    }
    return launched.get(name);
  };
  /** The browser a test page runs in, by its launcher's name ('Chrome', 'Chromium', 'Firefox'). */
  const browserNameOf = (session) => (/firefox/i.test(session.browser.name) ? 'firefox' : 'chromium');
  const cdpOf = ({ page, browserName }) => {
    if (browserName !== 'chromium') throw new Error('this page action needs the DevTools Protocol: open the page with browser: \'chromium\'');
    return page.createCDPSession();
  };
  const pageOf = (handle) => {
    const page = pages.get(handle);
    if (!page) throw new Error(`no page with handle ${handle}`);
    return page;
  };
  const actions = {
    /**
     * Starts the given browser (when it is not the test page's own) and waits up to 15 s for it:
     * a first launch on a loaded machine can outlast one command's 20 s, so callers ask again.
     */
    async launch({ browser: browserName }, session) {
      if (browserName === browserNameOf(session)) return { ready: true };
      const ready = await withTimeout(launch(browserName).then(() => true), 15_000);
      return { ready: ready === true };
    },
    async open({ url, isolated, browser: browserName }, session) {
      const testPage = session.browser.getPage(session.id);
      const own = browserNameOf(session);
      const browser = !browserName || browserName === own ? testPage.browser() : await launch(browserName);
      const context = isolated ? await browser.createBrowserContext() : undefined;
      const page = await (context ?? browser).newPage();
      const errors = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      const handle = nextHandle++;
      pages.set(handle, { page, context, errors, browserName: browserName ?? own });
      if (url) await page.goto(new URL(url, testPage.url()).href, { waitUntil: 'load' });
      return { handle };
    },
    async goto({ handle, url }) {
      const { page } = pageOf(handle);
      await page.goto(new URL(url, page.url()).href, { waitUntil: 'load' });
      return {};
    },
    async reload({ handle }) {
      await pageOf(handle).page.reload({ waitUntil: 'load' });
      return {};
    },
    async evaluate({ handle, expression }) {
      return { value: await pageOf(handle).page.evaluate(expression) };
    },
    async waitFor({ handle, expression, timeoutMs = 15_000 }) {
      await pageOf(handle).page.waitForFunction(expression, { timeout: timeoutMs, polling: 50 });
      return {};
    },
    async click({ handle, selector }) {
      await pageOf(handle).page.click(selector);
      return {};
    },
    async type({ handle, selector, text, clear = true }) {
      const { page } = pageOf(handle);
      if (clear) await page.$eval(selector, (element) => { element.value = ''; });
      await page.type(selector, text);
      return {};
    },
    async select({ handle, selector, value }) {
      await pageOf(handle).page.select(selector, value);
      return {};
    },
    async screenshot({ handle, path }) {
      mkdirSync(dirname(path), { recursive: true });
      await pageOf(handle).page.screenshot({ path, fullPage: true });
      return { path };
    },
    /** Freezes a page (no tasks, no timers run) or lets it run again, as a suspended laptop or a frozen tab. */
    async lifecycle({ handle, state }) {
      const cdp = await cdpOf(pageOf(handle));
      await cdp.send('Page.setWebLifecycleState', { state });
      await cdp.detach();
      return {};
    },
    async errors({ handle }) {
      return { errors: [...pageOf(handle).errors] };
    },
    /** Kills the page's renderer: no unload, no close, the way a crashed or killed tab goes. */
    async crash({ handle }) {
      const entry = pageOf(handle);
      const { page, context } = entry;
      const cdp = await cdpOf(entry);
      pages.delete(handle);
      // Page.crash never answers (its target is gone): wait for puppeteer's crash event instead.
      const crashed = new Promise((resolve) => page.once('error', resolve));
      cdp.send('Page.crash').catch(() => {});
      await withTimeout(crashed, 5000);
      await withTimeout(page.close().catch(() => {}), 5000);
      await withTimeout(context?.close().catch(() => {}), 5000);
      return {};
    },
    async close({ handle }) {
      const entry = pages.get(handle);
      pages.delete(handle);
      await entry?.page.close().catch(() => {});
      await entry?.context?.close().catch(() => {});
      return {};
    },
  };
  return {
    name: 'pages',
    async executeCommand({ command, payload, session }) {
      if (command !== 'page') return undefined;
      const action = actions[payload?.action];
      if (!action) throw new Error(`unknown page action ${payload?.action}`);
      return action(payload, session);
    },
    async serverStop() {
      for (const handle of [...pages.keys()]) await actions.close({ handle });
      for (const browser of launched.values()) await withTimeout(browser.then((started) => started.close()).catch(() => {}), 10_000);
      launched.clear();
    },
  };
}
