/**
 * Where the PeerServer is, how to get a token, and who this tab is. `npm start`
 * serves its choices at ./config.json; query parameters override them (the
 * tests pass theirs, and then no token: the test runner's PeerServer is open):
 *   ?user=alice&name=Alice&peerHost=127.0.0.1&peerPort=9000&peerPath=/peerjs
 */
import type { PeerServerOptions } from 'peer-invitation';

interface ServedConfig {
  peerPort?: number;
  peerPath?: string;
  /** Where the demo's stand-in backend hands out tokens (`npm start`'s companion server requires them). */
  tokenUrl?: string;
  /** The companion server rings closed tabs by Web Push (`npm start` turns it on). */
  push?: boolean;
}

/** Gets a token that lets this browser register `peerId`. */
export type TokenFetcher = (peerId: string) => Promise<string>;

export interface ServerConfig {
  peer: PeerServerOptions;
  /** Absent when the PeerServer is open. */
  token?: TokenFetcher;
  /** The server offers Web Push (demo/push.ts). */
  push: boolean;
}

export async function loadServerConfig(params = new URLSearchParams(location.search)): Promise<ServerConfig> {
  const served = params.has('peerPort') ? {} : await fetchServedConfig();
  const peer = {
    host: params.get('peerHost') ?? location.hostname,
    port: Number(params.get('peerPort') ?? served.peerPort ?? 9000),
    path: params.get('peerPath') ?? served.peerPath ?? '/peerjs',
    // No STUN or TURN: the tabs are on one machine (or one LAN), and no public host is contacted.
    config: { iceServers: [] },
  };
  const { tokenUrl } = served;
  const push = served.push === true;
  return tokenUrl ? { peer, push, token: (peerId) => fetchToken(tokenUrl, peerId) } : { peer, push };
}

/**
 * Asks the demo's backend for a token. A real app's backend signs one only for the user its
 * login session proves; the demo's stand-in signs one for whatever id was typed in.
 */
async function fetchToken(tokenUrl: string, peerId: string): Promise<string> {
  const response = await fetch(`${tokenUrl}?id=${encodeURIComponent(peerId)}`, { cache: 'no-store' });
  if (!response.ok) throw new Error(`the token endpoint answered ${response.status}`);
  return response.text();
}

async function fetchServedConfig(): Promise<ServedConfig> {
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    return response.ok ? ((await response.json()) as ServedConfig) : {};
  } catch {
    return {};
  }
}

/** The user in the address bar, if any: the tab connects as them at once (and again after a reload). */
export function userFromAddress(): { id: string; name: string } | undefined {
  const params = new URLSearchParams(location.search);
  const id = params.get('user')?.trim();
  if (!id) return undefined;
  return { id, name: params.get('name')?.trim() || id.charAt(0).toUpperCase() + id.slice(1) };
}

/** Puts the connected user in the address bar (or takes them out), so a reload reconnects as them. */
export function rememberUserInAddress(user: { id: string; name: string } | undefined): void {
  const url = new URL(location.href);
  if (user) {
    url.searchParams.set('user', user.id);
    url.searchParams.set('name', user.name);
  } else {
    url.searchParams.delete('user');
    url.searchParams.delete('name');
  }
  history.replaceState(null, '', url);
}
