/** Shared by the browser tests: a real PeerServer's address, plugins that clean up after themselves, and event waits. */
import { executeServerCommand } from '@web/test-runner-commands';
import { deleteDB } from 'idb';
import { Peer, type DataConnection } from 'peerjs';
import { filter, firstValueFrom, timeout, type Observable } from 'rxjs';
import { createSignalingPlugin, type SignalingPlugin, type SignalingPluginOptions } from '../src/index.js';
import { deleteMemoryDatabase } from '../src/storage/store.js';
import type { SendInvitationParams } from '../src/api/calls.js';
import type { InvitationReceivedEvent } from '../src/api/events.js';
import type { DeliveryOptions, PeerServerOptions } from '../src/api/types.js';

export type BrowserName = 'chromium' | 'firefox';

/** The browser this test page runs in (web-test-runner runs every file in Chromium and in Firefox). */
export const BROWSER: BrowserName = /Firefox\//.test(navigator.userAgent) ? 'firefox' : 'chromium';
/** The other one of the two: a peer page there makes a test cross-browser in both runs. */
export const OTHER_BROWSER: BrowserName = BROWSER === 'firefox' ? 'chromium' : 'firefox';

/**
 * Skips the current test in one browser, for a reason the platform gives (say it): a
 * test that means nothing there, never one that merely fails there.
 */
export function skipIn(context: Mocha.Context, browser: BrowserName, reason: string): void {
  if (BROWSER !== browser) return;
  console.log(`skipped in ${browser}: ${context.test?.fullTitle()}: ${reason}`);
  context.skip();
}

export interface PeerServerInfo {
  host: string;
  port: number;
  path: string;
}

export function peerServer(action: 'info' | 'stop' | 'start' = 'info'): Promise<PeerServerInfo> {
  return executeServerCommand<PeerServerInfo, { action: string }>('peer-server', { action });
}

/** A second PeerServer with its own `expire_timeout`, started on first use and stopped when the run ends. */
export async function extraPeerServerOptions(expireTimeoutMs: number): Promise<PeerServerOptions> {
  const { host, port, path } = await executeServerCommand<PeerServerInfo, { action: string; expireTimeoutMs: number }>('peer-server', {
    action: 'start-extra',
    expireTimeoutMs,
  });
  return { host, port, path, config: { iceServers: [] }, debug: 0 };
}

export async function peerOptions(): Promise<PeerServerOptions> {
  const { host, port, path } = await peerServer();
  return { host, port, path, config: { iceServers: [] }, debug: 0 };
}

/** Short timings so the suite stays fast; still far above loopback round trips. */
export const FAST_DELIVERY: DeliveryOptions = {
  ackTimeoutMs: 1500,
  retryInitialDelayMs: 100,
  retryMaxDelayMs: 500,
  connectTimeoutMs: 8000,
  heartbeatIntervalMs: 500,
  retentionMs: 3000,
  idTakenRetryMs: 1500,
  reconnectTimeoutMs: 3000,
  reconnectMaxDelayMs: 1000,
};

let counter = 0;
/** A peer id no other test (or earlier run against the same server) uses. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/** A bare PeerJS peer, for playing a hostile or hand-driven side of the protocol. */
export interface RawPeer {
  id: string;
  peer: Peer;
  /** Opens a reliable JSON connection, as the plugin does, and resolves when it is open. */
  connectTo(id: string): Promise<DataConnection>;
}

export interface PageCommand {
  action: string;
  [key: string]: unknown;
}

/** Runs an action of the `page` command (test/server/pages-plugin.mjs) on an extra browser page. */
export function pageCommand<T = Record<string, unknown>>(payload: PageCommand): Promise<T> {
  return executeServerCommand<T, PageCommand>('page', payload);
}

/** Waits (60 s at most, failing loudly) until the pages plugin has `browser` running. */
export async function launchBrowser(browser: BrowserName): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!(await pageCommand<{ ready: boolean }>({ action: 'launch', browser })).ready) {
    if (performance.now() > deadline) throw new Error(`${browser} did not start within 60 s`);
  }
}

/** An expression that holds once the peer page recorded `event` for `invitationID`. */
export function peerPageHas(event: string, invitationID: string): string {
  return `window.testPeer.events.some((e) => e.event === ${JSON.stringify(event)} && e.value.invitationID === ${JSON.stringify(invitationID)})`;
}

/** Creates plugins, raw peers, peer pages and databases for one test and removes them all in `cleanup`. */
export class Harness {
  private readonly plugins: SignalingPlugin[] = [];
  private readonly rawPeers: Peer[] = [];
  private readonly pages = new Set<number>();
  private readonly databases = new Set<string>();

  /**
   * Opens test/fixtures/peer-page.html in a page of its own (its own browser context:
   * another device, as it were) and connects a plugin there as `id`. `browser`: the
   * test page's own browser unless given (the pages plugin launches the other one).
   * `tab`: a tab of that browser's default profile (the test page's own, when it is the
   * test's browser), sharing Web Locks, BroadcastChannel and IndexedDB with its other tabs.
   */
  async peerPage(
    id: string,
    { browser, options = {}, tab = false }: { browser?: BrowserName; options?: SignalingPluginOptions & { recordNotifications?: boolean }; tab?: boolean } = {},
  ): Promise<number> {
    // A context of its own: a renderer that can crash alone, and (in Chromium) a visible window.
    const isolated = !tab;
    if (browser) await launchBrowser(browser);
    const { handle } = await pageCommand<{ handle: number }>({ action: 'open', url: '/test/fixtures/peer-page.html', isolated, browser });
    this.pages.add(handle);
    await pageCommand({ action: 'waitFor', handle, expression: 'window.testPeer !== undefined' });
    const pluginOptions = { peer: await peerOptions(), ...options, delivery: { ...FAST_DELIVERY, ...options.delivery } };
    await pageCommand({ action: 'evaluate', handle, expression: `window.testPeer.connect(${JSON.stringify(id)}, ${JSON.stringify(pluginOptions)})` });
    return handle;
  }

  /**
   * Opens test/fixtures/attacker-page.html in a browser context of its own: the
   * official PeerJS browser build as `window.peerjs`, driven through `window.attacker`.
   */
  async attackerPage(): Promise<number> {
    const { handle } = await pageCommand<{ handle: number }>({ action: 'open', url: '/test/fixtures/attacker-page.html', isolated: true });
    this.pages.add(handle);
    await pageCommand({ action: 'waitFor', handle, expression: 'window.attacker !== undefined && window.peerjs !== undefined' });
    return handle;
  }

  /** Kills a peer page's renderer (see the `crash` page action); cleanup then has nothing to close. */
  async crashPage(handle: number): Promise<void> {
    this.pages.delete(handle);
    await pageCommand({ action: 'crash', handle });
  }

  async rawPeer(prefix: string): Promise<RawPeer> {
    const id = uniqueId(prefix);
    const peer = new Peer(id, await peerOptions());
    this.rawPeers.push(peer);
    await new Promise<void>((resolve) => peer.on('open', () => resolve()));
    const connectTo = (to: string) =>
      new Promise<DataConnection>((resolve) => {
        const connection = peer.connect(to, { reliable: true, serialization: 'json' });
        connection.on('open', () => resolve(connection));
      });
    return { id, peer, connectTo };
  }

  async plugin(options: SignalingPluginOptions = {}): Promise<SignalingPlugin> {
    const plugin = createSignalingPlugin({
      peer: await peerOptions(),
      ...options,
      delivery: { ...FAST_DELIVERY, ...options.delivery },
    });
    this.plugins.push(plugin);
    return plugin;
  }

  /** A plugin connected as a fresh user; its database is deleted in cleanup. */
  async user(prefix: string, options: SignalingPluginOptions = {}): Promise<{ plugin: SignalingPlugin; id: string; databaseName: string }> {
    const id = uniqueId(prefix);
    const databaseName = options.databaseName ?? `test:${id}`;
    const plugin = await this.plugin({ ...options, databaseName });
    this.databases.add(databaseName);
    await plugin.connectUser({ id, name: prefix });
    return { plugin, id, databaseName };
  }

  track(databaseName: string): void {
    this.databases.add(databaseName);
  }

  async cleanup(): Promise<void> {
    for (const handle of this.pages) await pageCommand({ action: 'close', handle });
    this.pages.clear();
    for (const peer of this.rawPeers.splice(0)) peer.destroy();
    await Promise.all(this.plugins.splice(0).map((plugin) => plugin.dispose()));
    for (const name of this.databases) deleteMemoryDatabase(name);
    await Promise.all([...this.databases].map((name) => deleteDB(name)));
    this.databases.clear();
  }
}

/** The first value matching `predicate`, or a rejection after `ms`. Subscribe before acting. */
export function next<T>(source: Observable<T>, predicate: (value: T) => boolean = () => true, ms = 15_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout({ first: ms, with: () => { throw new Error(`no matching event within ${ms} ms`); } })));
}

/**
 * Sends an invitation from one plugin to another and waits until it both rang
 * there and was acknowledged back (`delivered`): the starting point of many tests.
 */
export async function inviteAndRing(
  inviter: SignalingPlugin,
  invitee: SignalingPlugin,
  params: SendInvitationParams,
): Promise<{ invitationID: string; received: InvitationReceivedEvent }> {
  const rings = next(invitee.invitationReceived$);
  const delivered = next(inviter.inviteeStateChanged$, (event) => event.state === 'delivered');
  const { invitationID, error } = await inviter.sendInvitation(params);
  if (error) throw error;
  const received = await rings;
  await delivered;
  return { invitationID, received };
}

/** Records every value of `source` until `stop()`. */
export function record<T>(source: Observable<T>): { values: T[]; stop(): void } {
  const values: T[] = [];
  const subscription = source.subscribe((value) => values.push(value));
  return { values, stop: () => subscription.unsubscribe() };
}

/** Resolves once `condition()` holds (checked every 50 ms); rejects loudly, naming `what`, after `ms`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Lets timers and the network run for `ms`; only where a test must show that nothing happens. */
export function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
