/**
 * "Ring me when this tab is closed": the demo's Web Push switch (README, "Ring with no tab open").
 * On: the plugin's enablePush with the shipped service worker, served beside the demo's pages
 * (scope /demo/), configured in its script URL with the companion server (for Decline's POST)
 * and this page for the connected user (for Accept). Off: disablePush. Shows the outcome: enabled,
 * off, or the error code. A page that Accept opened says so on invitationReceived$
 * (`acceptedFromNotification`), and the app accepts at once: the user already chose.
 */
import type { PeerServerOptions, SignalingPlugin } from 'peer-invitation';

export const WORKER_SCRIPT = './peer-invitation-sw.js';

export class PushSwitch {
  #busy = false;

  constructor(
    private readonly plugin: SignalingPlugin,
    private readonly input: HTMLInputElement,
    private readonly status: HTMLElement,
    private readonly peer: PeerServerOptions,
    /** Whether the demo's server has push (config.json `push`); `npm start` has. */
    private readonly offered: boolean,
  ) {
    input.addEventListener('change', () => void (input.checked ? this.#enable() : this.#disable()));
    this.#show('off', this.offered ? 'off' : 'off: this server has no push');
  }

  /** Connected: the switch works; if this browser is still subscribed, it tells the server again (it may have restarted). */
  async connected(): Promise<void> {
    this.input.disabled = !this.#supported();
    if (this.input.disabled) return this.#show('error', 'error: UNSUPPORTED (no service worker or push here; an insecure origin?)');
    const registration = await navigator.serviceWorker.getRegistration();
    if (await registration?.pushManager.getSubscription()) {
      this.input.checked = true;
      await this.#enable();
    }
  }

  disconnected(): void {
    this.input.disabled = true;
  }

  async #enable(): Promise<void> {
    await this.#run('enabling…', async () => {
      const result = await this.plugin.enablePush({ serviceWorker: this.#workerUrl() });
      if ('enabled' in result) return this.#show('enabled', 'enabled: close this tab, and invitations ring this browser');
      this.input.checked = false;
      this.#show('error', `error: ${result.error.code}${result.error.reason ? ` (${result.error.reason})` : ''}`);
    });
  }

  async #disable(): Promise<void> {
    await this.#run('turning off…', async () => {
      const result = await this.plugin.disablePush();
      if ('error' in result) this.#show('error', `error: ${result.error.code}${result.error.reason ? ` (${result.error.reason})` : ''}`);
      else this.#show('off', 'off');
    });
  }

  async #run(pending: string, work: () => Promise<void>): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    this.input.disabled = true;
    this.#show('pending', pending);
    try {
      await work();
    } catch (error) {
      this.input.checked = false;
      this.#show('error', `error: ${(error as Error)?.message ?? String(error)}`);
    } finally {
      this.#busy = false;
      this.input.disabled = this.plugin.user === undefined;
    }
  }

  /**
   * The worker's script URL says where Decline POSTs (the companion server over HTTP) and which
   * page Accept opens: this demo, connecting as the user who turned push on.
   */
  #workerUrl(): string {
    const { host = location.hostname, port, path = '/', secure = location.protocol === 'https:' } = this.peer;
    const server = `${secure ? 'https:' : 'http:'}//${host}${port ? `:${port}` : ''}${path.replace(/\/+$/, '')}`;
    const accept = new URL(location.pathname, location.href);
    const user = this.plugin.user;
    if (user) {
      accept.searchParams.set('user', user.id);
      accept.searchParams.set('name', user.name);
    }
    const url = new URL(WORKER_SCRIPT, location.href);
    url.searchParams.set('server', server);
    url.searchParams.set('accept', accept.pathname + accept.search);
    url.searchParams.set('app', accept.pathname + accept.search);
    return url.href;
  }

  #supported(): boolean {
    return 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';
  }

  #show(state: 'off' | 'pending' | 'enabled' | 'error', text: string): void {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }
}
