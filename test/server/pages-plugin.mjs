// Test-runner commands that drive extra browser pages beside the test's own:
// a second "tab" (or a tab in its own browser context, whose renderer can be
// crashed to act out a tab killed mid-call). Pages are addressed by handle.
// Open pages that must be clicked or photographed with `isolated: true`: each
// then has its own window and stays visible; a background tab of a shared
// window never paints, so puppeteer's click and screenshot would wait forever.
// Waits stay under the runner's 20 s command limit so their own error shows.
// `open` with `browser: 'firefox'` opens the page in a Firefox ESR instead
// (puppeteer-core over WebDriver BiDi), launched on first use, closed in serverStop.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import puppeteer from 'puppeteer-core';

/**
 * Plain ICE on the sealed network: Firefox's own host and loopback candidates, not
 * mDNS names that only a multicast lookup could resolve. (Chromium's candidates are
 * enough without these prefs; they keep Firefox's side from depending on that.)
 */
const FIREFOX_PREFS = {
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  // Never reach for the public STUN server Firefox would use for a page without iceServers.
  'media.peerconnection.default_iceservers': '[]',
};

/** Settles with `promise`, or after `ms` whatever happens: teardown must not hang a test. */
function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]).finally(() => clearTimeout(timer));
}

export function pagesPlugin() {
  const pages = new Map();
  let nextHandle = 1;
  let firefox;
  const launchFirefox = () => {
    firefox ??= puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX_PATH || '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: FIREFOX_PREFS,
    }).catch((error) => {
      firefox = undefined; // let the next `open` try again, with its own error
      throw error;
    });
    return firefox;
  };
  const pageOf = (handle) => {
    const page = pages.get(handle);
    if (!page) throw new Error(`no page with handle ${handle}`);
    return page;
  };
  const actions = {
    async open({ url, isolated, browser: browserName }, session) {
      const testPage = session.browser.getPage(session.id);
      const browser = browserName === 'firefox' ? await launchFirefox() : testPage.browser();
      const context = isolated ? await browser.createBrowserContext() : undefined;
      const page = await (context ?? browser).newPage();
      const errors = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      const handle = nextHandle++;
      pages.set(handle, { page, context, errors });
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
      const cdp = await pageOf(handle).page.createCDPSession();
      await cdp.send('Page.setWebLifecycleState', { state });
      await cdp.detach();
      return {};
    },
    async errors({ handle }) {
      return { errors: [...pageOf(handle).errors] };
    },
    /** Kills the page's renderer: no unload, no close, the way a crashed or killed tab goes. */
    async crash({ handle }) {
      const { page, context } = pageOf(handle);
      pages.delete(handle);
      const cdp = await page.createCDPSession();
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
      if (firefox) await withTimeout(firefox.then((browser) => browser.close()).catch(() => {}), 10_000);
    },
  };
}
