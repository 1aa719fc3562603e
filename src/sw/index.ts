/**
 * `peer-invitation/sw` as an ES module, for an app's own module service worker:
 * `installPeerInvitationWorker(self, () => ({ serverUrl, acceptUrl }))`. The classic script
 * `dist/peer-invitation-sw.js` does the same for a worker registered as it is, or imported.
 */
export { installPeerInvitationWorker, configFromScriptUrl } from './worker.js';
export type { WorkerScope } from './worker.js';
export { clickDecision, notificationFor, readPush, ACCEPT_PARAMETER } from './decisions.js';
export type { ClickDecision, NotificationData, NotificationPlan, PushPayload, WorkerConfig } from './decisions.js';
