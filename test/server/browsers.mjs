// The two browsers the suite runs in, as the runner's launchers and the pages plugin start them:
// Debian's Chromium and Firefox ESR (never a downloaded one), set up for WebRTC on the sealed network.

export const CHROME_PATH = process.env.CHROME_PATH || '/usr/bin/chromium';
export const FIREFOX_PATH = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/**
 * WebRTC between pages on the sealed network: Firefox's own host and loopback
 * candidates, not mDNS names that only a multicast lookup could resolve; fake
 * media without a permission prompt; never the public STUN server Firefox would
 * use for a page without iceServers.
 */
export const FIREFOX_PREFS = {
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.default_address_only': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.navigator.permission.disabled': true,
  'media.navigator.streams.fake': true,
  'media.peerconnection.default_iceservers': '[]',
};
