/** The test runner's `companion-server` command (test/server/companion-server-plugin.mjs), typed for the browser tests. */
import { executeServerCommand } from '@web/test-runner-commands';
import type { PeerServerOptions } from '../src/api/types.js';

export interface Companion {
  handle: number;
  host: string;
  port: number;
  path: string;
}

export interface CompanionStart {
  /** Tokens required, with a secret that stays in Node. */
  secret?: boolean;
  /** The app's own check (test/server/app-verify.mjs) instead. */
  verify?: 'app';
  expireTimeoutMs?: number;
  /** Join the run's Redis, as a node of one cluster. */
  cluster?: boolean;
  /** Use the secret of this server (the nodes of a cluster share one). */
  secretOf?: number;
}

export function companion<T>(payload: Record<string, unknown>): Promise<T> {
  return executeServerCommand<T, Record<string, unknown>>('companion-server', payload);
}

export function startCompanion(options: CompanionStart = {}): Promise<Companion> {
  return companion<Companion>({ action: 'start', ...options });
}

export function stopCompanion({ handle }: Companion): Promise<unknown> {
  return companion({ action: 'stop', handle });
}

export function peerOf({ host, port, path }: Companion): PeerServerOptions {
  return { host, port, path, config: { iceServers: [] }, debug: 0 };
}

/** A token signed in Node with the server's secret (or, with `otherSecret`, with another). */
export async function sign(server: Companion, userId: string, extra: { expiresInSeconds?: number; now?: number; otherSecret?: boolean } = {}): Promise<string> {
  return (await companion<{ token: string }>({ action: 'sign', handle: server.handle, userId, ...extra })).token;
}
