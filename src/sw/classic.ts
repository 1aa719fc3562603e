/**
 * `dist/peer-invitation-sw.js`: register it as it is (`navigator.serviceWorker.register(
 * '/peer-invitation-sw.js?server=https://signal.example.com/peerjs&accept=/call')`), or
 * `importScripts` it into the app's own worker and call `PeerInvitationSW.configure({...})`.
 */
import type { WorkerConfig } from './decisions.js';
import { configFromScriptUrl, installPeerInvitationWorker, type WorkerScope } from './worker.js';

const scope = self as unknown as WorkerScope & { PeerInvitationSW?: { configure(config: WorkerConfig): void } };
let config: WorkerConfig = configFromScriptUrl(scope.location.href);
installPeerInvitationWorker(scope, () => config);
scope.PeerInvitationSW = {
  /** Replaces what the script URL said (for a worker that imported this script). */
  configure(next: WorkerConfig) {
    config = { ...config, ...next };
  },
};
