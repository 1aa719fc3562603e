/**
 * What PeerJS asks of `webrtc-adapter`, for the script-tag bundle only
 * (scripts/build.mjs puts this module in its place there): the browser's name
 * and major version, which PeerJS checks against its supported list before a
 * `Peer` may start. The adapter's shims are left out: they adjust media APIs
 * and older browsers, while the plugin uses data channels of the browsers
 * PeerJS supports, and they were a quarter of the bundle (13 KiB gzipped).
 * The ES module leaves `peerjs` to the app's bundler, adapter included.
 */
export interface BrowserDetails {
  browser: string;
  version: number | null;
}

export function detectBrowser(agent: string, brands: readonly { brand: string; version: string }[] | undefined, hasMozGetUserMedia: boolean): BrowserDetails {
  const chromium = brands?.find(({ brand }) => brand === 'Chromium');
  if (chromium && Number.parseInt(chromium.version, 10) >= 90) return { browser: 'chrome', version: Number.parseInt(chromium.version, 10) };
  const firefox = /Firefox\/(\d+)\./.exec(agent);
  if (hasMozGetUserMedia || firefox) return { browser: 'firefox', version: firefox ? Number(firefox[1]) : null };
  const chrome = /Chrom(?:e|ium)\/(\d+)\./.exec(agent);
  if (chrome) return { browser: 'chrome', version: Number(chrome[1]) };
  const webkit = /AppleWebKit\/(\d+)\./.exec(agent);
  if (webkit) return { browser: 'safari', version: Number(webkit[1]) };
  return { browser: 'Not a supported browser.', version: null };
}

const nav = typeof navigator === 'undefined' ? undefined : (navigator as Navigator & { userAgentData?: { brands?: { brand: string; version: string }[] }; mozGetUserMedia?: unknown });

export default {
  browserDetails: nav ? detectBrowser(nav.userAgent, nav.userAgentData?.brands, typeof nav.mozGetUserMedia === 'function') : { browser: 'Not a browser.', version: null },
};
