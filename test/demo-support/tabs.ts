/**
 * Drives the demo pages as a person would, in extra browser pages opened with
 * the `page` test-runner command (test/server/pages-plugin.mjs).
 */
import { deleteDB } from 'idb';
import { pageCommand, peerServer } from '../helpers.js';

type PageAction = 'open' | 'reload' | 'evaluate' | 'waitFor' | 'click' | 'type' | 'select' | 'screenshot' | 'errors' | 'close';

function page<T>(action: PageAction, payload: Record<string, unknown> = {}): Promise<T> {
  return pageCommand<T>({ ...payload, action });
}

/** A CSS attribute selector with a safely quoted value. */
export function attr(name: string, value: string): string {
  return `[${name}=${JSON.stringify(value)}]`;
}

export class Tab {
  private constructor(readonly handle: number) {}

  /**
   * Opens `url` in its own browser context, like a separate browser profile: its
   * own window, so it stays visible and renders (a background tab renders nothing,
   * and mouse clicks and screenshots wait for a frame), and its own storage,
   * discarded when it closes.
   */
  static async open(url: string): Promise<Tab> {
    const { handle } = await page<{ handle: number }>('open', { url, isolated: true });
    return new Tab(handle);
  }

  /**
   * Opens `url` as another tab of the test page's own browser profile: it shares Web Locks,
   * BroadcastChannel and IndexedDB with the test page and its other such tabs. A background
   * tab renders nothing: click it with `clickInPage`.
   */
  static async openInProfile(url: string): Promise<Tab> {
    const { handle } = await page<{ handle: number }>('open', { url, isolated: false });
    return new Tab(handle);
  }

  /** Clicks from inside the page (`element.click()`), for tabs that do not render. */
  clickInPage(selector: string): Promise<void> {
    return this.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
  }

  click(selector: string): Promise<void> {
    return page('click', { handle: this.handle, selector });
  }

  /** Focuses the element and presses Enter, as a keyboard user would. */
  press(selector: string): Promise<void> {
    return page('type', { handle: this.handle, selector, text: '\n', clear: false });
  }

  /** Replaces the field's text by typing `text` key by key. */
  type(selector: string, text: string): Promise<void> {
    return page('type', { handle: this.handle, selector, text });
  }

  select(selector: string, value: string): Promise<void> {
    return page('select', { handle: this.handle, selector, value });
  }

  async evaluate<T>(expression: string): Promise<T> {
    return (await page<{ value: T }>('evaluate', { handle: this.handle, expression })).value;
  }

  /** Waits until `expression` is truthy in the page; under the 20 s the test runner allows a command, so its own error shows. */
  waitFor(expression: string, timeoutMs = 15_000): Promise<void> {
    return page('waitFor', { handle: this.handle, expression, timeoutMs });
  }

  /** The trimmed text of the first element matching `selector`, or null. */
  text(selector: string): Promise<string | null> {
    return this.evaluate(`document.querySelector(${JSON.stringify(selector)})?.textContent.trim() ?? null`);
  }

  exists(selector: string): Promise<boolean> {
    return this.evaluate(`document.querySelector(${JSON.stringify(selector)}) !== null`);
  }

  waitForText(selector: string, text: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(`document.querySelector(${JSON.stringify(selector)})?.textContent.trim() === ${JSON.stringify(text)}`, timeoutMs);
  }

  waitForElement(selector: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(`document.querySelector(${JSON.stringify(selector)}) !== null`, timeoutMs);
  }

  waitForGone(selector: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(`document.querySelector(${JSON.stringify(selector)}) === null`, timeoutMs);
  }

  reload(): Promise<void> {
    return page('reload', { handle: this.handle });
  }

  screenshot(path: string): Promise<void> {
    return page('screenshot', { handle: this.handle, path });
  }

  async errors(): Promise<string[]> {
    return (await page<{ errors: string[] }>('errors', { handle: this.handle })).errors;
  }

  close(): Promise<void> {
    return page('close', { handle: this.handle });
  }
}

/** A demo page (`demo/index.html` or `demo/script-tag.html`) used by one user. */
export class DemoTab {
  constructor(
    readonly tab: Tab,
    readonly id: string,
    readonly name: string,
  ) {}

  /** The page's address, pointing it at the test runner's PeerServer. */
  static async url(pagePath: string): Promise<string> {
    const { host, port, path } = await peerServer();
    return `${pagePath}?${new URLSearchParams({ peerHost: host, peerPort: String(port), peerPath: path })}`;
  }

  /** Waits for the page's script, then connects as a person would: type id and name, click Connect. */
  async connect(): Promise<void> {
    await this.tab.waitFor(`document.body.dataset.ready === 'true'`);
    await this.tab.type('#user-id', this.id);
    await this.tab.type('#user-name', this.name);
    await this.tab.click('#connect');
    await this.waitForConnected();
  }

  waitForConnected(): Promise<void> {
    return this.tab.waitFor(`document.querySelector('#connection-state').dataset.state === 'connected'`);
  }

  /** Fills the invite form and submits it. `data` only exists on the main demo page. */
  async invite({ invitees, type, timeout, data }: { invitees: string[]; type: 0 | 1; timeout: number; data?: string }): Promise<void> {
    await this.tab.type('#invitees', invitees.join(', '));
    await this.tab.select('#call-type', String(type));
    await this.tab.type('#timeout', String(timeout));
    if (data !== undefined) await this.tab.type('#data', data);
    await this.tab.click('#send-invitation');
  }

  /** The incoming card for a call from `inviterId`. */
  incoming(inviterId: string): string {
    return `[data-testid="incoming"]${attr('data-inviter', inviterId)}`;
  }

  /** The state badge of `invitee` in the outgoing list. */
  inviteeState(invitee: string): string {
    return `[data-testid="invitee"]${attr('data-invitee', invitee)} [data-testid="invitee-state"]`;
  }

  waitForInviteeState(invitee: string, state: string, timeoutMs?: number): Promise<void> {
    return this.tab.waitForText(this.inviteeState(invitee), state, timeoutMs);
  }

  waitForRinging(inviterId: string, timeoutMs?: number): Promise<void> {
    return this.tab.waitForElement(this.incoming(inviterId), timeoutMs);
  }

  async secondsLeft(inviterId: string): Promise<number> {
    return Number(await this.tab.evaluate<string>(`document.querySelector(${JSON.stringify(`${this.incoming(inviterId)} [data-testid="countdown"]`)}).dataset.seconds`));
  }

  /** Waits until the log shows an emission of `source` (an observable's name, such as `invitationAccepted$`). */
  waitForLog(source: string, timeoutMs?: number): Promise<void> {
    return this.tab.waitForElement(`#log [data-testid="log-entry"]${attr('data-source', source)}`, timeoutMs);
  }

  /** Waits until the log has an entry from `source` whose text is exactly `text`. */
  waitForLogText(source: string, text: string, timeoutMs?: number): Promise<void> {
    const entries = `#log [data-testid="log-entry"]${attr('data-source', source)} .text`;
    return this.tab.waitFor(`[...document.querySelectorAll(${JSON.stringify(entries)})].some((entry) => entry.textContent === ${JSON.stringify(text)})`, timeoutMs);
  }

  /** Waits until the call panel is open and the other side's stream, in #remote-video, has a live track. */
  waitForCall(timeoutMs?: number): Promise<void> {
    return this.tab.waitFor(`!document.querySelector('#call-panel').hidden && ${hasLiveTrack('#remote-video')}`, timeoutMs);
  }

  waitForCallEnded(timeoutMs?: number): Promise<void> {
    return this.tab.waitFor(`document.querySelector('#call-panel').hidden`, timeoutMs);
  }

  /** The kinds of the live tracks shown by the <video> at `selector`, sorted: `['audio', 'video']` in a video call. */
  liveTracks(selector: string): Promise<string[]> {
    return this.tab.evaluate(`(document.querySelector(${JSON.stringify(selector)}).srcObject?.getTracks() ?? []).filter((track) => track.readyState === 'live').map((track) => track.kind).sort()`);
  }
}

/** A page expression: whether the stream shown by the <video> at `selector` has a live track. */
function hasLiveTrack(selector: string): string {
  return `(document.querySelector(${JSON.stringify(selector)}).srcObject?.getTracks().some((track) => track.readyState === 'live') ?? false)`;
}

/** The tabs one test opens, closed (with their storage) in `cleanup`. */
export class Tabs {
  private readonly tabs: Tab[] = [];
  /** Databases the demo made in the test page's own profile (`openInProfile`). */
  private readonly databases = new Set<string>();

  /** A tab of the test page's profile, connected as `id` from the address (`?user=`), as a second tab of a user is. */
  async openInProfile(pagePath: string, id: string, name: string): Promise<DemoTab> {
    const url = `${await DemoTab.url(pagePath)}&${new URLSearchParams({ user: id, name })}`;
    const tab = await Tab.openInProfile(url);
    this.tabs.push(tab);
    this.databases.add(`peer-invitation:${id}`);
    const demo = new DemoTab(tab, id, name);
    await demo.waitForConnected();
    return demo;
  }

  /** Opens `pagePath` and connects there as `id`. */
  async open(pagePath: string, id: string, name: string): Promise<DemoTab> {
    const tab = await Tab.open(await DemoTab.url(pagePath));
    this.tabs.push(tab);
    const demo = new DemoTab(tab, id, name);
    await demo.connect();
    return demo;
  }

  /** Page errors (uncaught exceptions) of every open tab. */
  async errors(): Promise<string[]> {
    return (await Promise.all(this.tabs.map((tab) => tab.errors()))).flat();
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.tabs.splice(0).map((tab) => tab.close()));
    await Promise.all([...this.databases].map((name) => deleteDB(name)));
    this.databases.clear();
  }
}
