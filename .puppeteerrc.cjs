// Browsers come from Debian (chromium, firefox-esr): never let puppeteer download its own.
module.exports = { skipDownload: true };
