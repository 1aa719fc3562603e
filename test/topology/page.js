// `window.reach`, driven by the topology tests over puppeteer: a plugin from the script-tag
// bundle, its events recorded, and every RTCPeerConnection the page makes kept for getStats
// (recorded by wrapping the constructor before PeerJS makes any: no plugin internals).
(() => {
  const connections = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const connection = new Native(...args);
    connections.push(connection);
    return connection;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);

  const events = [];
  let plugin;
  let connectedAt = 0;
  const record = (event, value) => events.push({ event, value, at: performance.now() });

  window.reach = {
    events,
    platform() {
      return {
        isSecureContext: window.isSecureContext,
        randomUUID: typeof crypto.randomUUID,
        subtle: typeof crypto.subtle,
        locks: typeof navigator.locks,
        serviceWorker: typeof navigator.serviceWorker,
        Notification: typeof Notification,
        notificationPermission: typeof Notification === 'undefined' ? 'none' : Notification.permission,
        getRandomValues: typeof crypto.getRandomValues,
        indexedDB: typeof indexedDB,
        BroadcastChannel: typeof BroadcastChannel,
      };
    },
    async connect(id, options) {
      plugin = PeerInvitation.createSignalingPlugin(options);
      plugin.invitationReceived$.subscribe((value) => record('received', value));
      plugin.invitationAccepted$.subscribe((value) => record('accepted', value));
      plugin.invitationRefused$.subscribe((value) => record('refused', value));
      plugin.invitationCanceled$.subscribe((value) => record('canceled', value));
      plugin.inviteeStateChanged$.subscribe((value) => record('state', value));
      plugin.errors$.subscribe((error) => record('error', { code: error.code, message: error.message }));
      await plugin.connectUser({ id, name: id });
      connectedAt = performance.now();
    },
    /** Resolves once the plugin has been registered for `ms` (past the parked-offer window of PROTOCOL.md). */
    registeredFor(ms) {
      return new Promise((resolve) => setTimeout(resolve, Math.max(0, connectedAt + ms - performance.now())));
    },
    /** Resolves `{ invitationID, error }`, the error as its code. */
    async send(params) {
      const { invitationID, error } = await plugin.sendInvitation(params);
      return { invitationID, error: error ? error.code : null };
    },
    async accept(invitationID) {
      const { error } = await plugin.acceptInvitation({ invitationID });
      return error ? error.code : null;
    },
    async cancel(invitationID) {
      const { error } = await plugin.cancelInvitation({ invitationID });
      return error ? error.code : null;
    },
    /** The first event named `event` (whose value has `invitationID`, if given, and `state`, if given), waiting up to `ms`. */
    waitFor(event, invitationID, ms = 20000, state = undefined) {
      const found = () =>
        events.find((entry) => entry.event === event && (invitationID === undefined || entry.value.invitationID === invitationID) && (state === undefined || entry.value.state === state));
      return new Promise((resolve, reject) => {
        const deadline = performance.now() + ms;
        const poll = () => {
          const entry = found();
          if (entry) return resolve(entry);
          if (performance.now() > deadline) return reject(new Error(`no ${event} within ${ms} ms; events: ${JSON.stringify(events.map((e) => e.event))}`));
          setTimeout(poll, 20);
        };
        poll();
      });
    },
    /** For each RTCPeerConnection: its states and the selected candidate pair's local and remote candidate types and addresses. */
    async selectedPairs() {
      const result = [];
      for (const connection of connections) {
        const stats = await connection.getStats();
        const byId = new Map();
        stats.forEach((report) => byId.set(report.id, report));
        let pair;
        stats.forEach((report) => {
          if (report.type === 'transport' && report.selectedCandidatePairId) pair = byId.get(report.selectedCandidatePairId);
        });
        // Firefox has no transport report: the pair marked selected (or nominated and succeeded).
        if (!pair) stats.forEach((report) => {
          if (report.type === 'candidate-pair' && (report.selected || (report.nominated && report.state === 'succeeded'))) pair = report;
        });
        const candidate = (id) => {
          const found = byId.get(id);
          return found && { type: found.candidateType, address: found.address ?? found.ip, protocol: found.protocol, relayProtocol: found.relayProtocol };
        };
        result.push({
          connectionState: connection.connectionState,
          iceConnectionState: connection.iceConnectionState,
          local: pair && candidate(pair.localCandidateId),
          remote: pair && candidate(pair.remoteCandidateId),
        });
      }
      return result;
    },
    dispose() {
      return plugin?.dispose();
    },
  };
})();
