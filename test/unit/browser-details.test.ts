/**
 * What the script-tag bundle tells PeerJS in place of webrtc-adapter: the browser and its
 * major version, for the user agents PeerJS supports, and for this browser.
 */
import { expect } from '@esm-bundle/chai';
import { detectBrowser } from '../../src/iife/browser-details.js';

describe('browser details for PeerJS (script-tag bundle)', () => {
  it('names Chromium browsers by their brand, or by their user agent', () => {
    const agent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
    expect(detectBrowser(agent, [{ brand: 'Chromium', version: '156' }], false)).to.deep.equal({ browser: 'chrome', version: 156 });
    expect(detectBrowser(agent, undefined, false)).to.deep.equal({ browser: 'chrome', version: 156 });
    expect(detectBrowser('Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0', undefined, false)).to.deep.equal({
      browser: 'chrome',
      version: 130,
    });
  });

  it('names Firefox, and Safari by its WebKit build as PeerJS compares it', () => {
    expect(detectBrowser('Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0', undefined, true)).to.deep.equal({ browser: 'firefox', version: 140 });
    const safari = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
    expect(detectBrowser(safari, undefined, false)).to.deep.equal({ browser: 'safari', version: 605 });
    expect(detectBrowser('curl/8.0', undefined, false).browser).to.equal('Not a supported browser.');
  });

  it('says of this browser what webrtc-adapter says', async () => {
    const adapter = (await import('webrtc-adapter')).default;
    const ours = (await import('../../src/iife/browser-details.js')).default;
    expect(ours.browserDetails).to.deep.include({ browser: adapter.browserDetails.browser, version: adapter.browserDetails.version });
  });
});
