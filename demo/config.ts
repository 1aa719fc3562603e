/**
 * Where the PeerServer is, and who this tab is. `npm start` serves the port it
 * chose at ./config.json; query parameters override it (the tests pass theirs):
 *   ?user=alice&name=Alice&peerHost=127.0.0.1&peerPort=9000&peerPath=/peerjs
 */
import type { PeerServerOptions } from 'peer-invitation';

interface ServedConfig {
  peerPort?: number;
  peerPath?: string;
}

export async function loadPeerOptions(params = new URLSearchParams(location.search)): Promise<PeerServerOptions> {
  const served = params.has('peerPort') ? {} : await fetchServedConfig();
  return {
    host: params.get('peerHost') ?? location.hostname,
    port: Number(params.get('peerPort') ?? served.peerPort ?? 9000),
    path: params.get('peerPath') ?? served.peerPath ?? '/peerjs',
    // No STUN or TURN: the tabs are on one machine (or one LAN), and no public host is contacted.
    config: { iceServers: [] },
  };
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
