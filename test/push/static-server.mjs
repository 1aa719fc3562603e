// An HTTP server on 127.0.0.1 (a secure context: service workers and push work) for the
// browser push tests: the shipped service worker and script-tag bundle from dist/, and an
// empty app page.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const dist = new URL('../../dist/', import.meta.url);
const FILES = {
  '/peer-invitation-sw.js': ['peer-invitation-sw.js', 'text/javascript'],
  '/peer-invitation.iife.js': ['peer-invitation.iife.js', 'text/javascript'],
};

export async function startStaticServer() {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url, 'http://x');
    const file = FILES[pathname];
    if (file) {
      response.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' }).end(readFileSync(new URL(file[0], dist)));
    } else if (pathname === '/app.html' || pathname === '/call.html') {
      response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>app</title><script src="/peer-invitation.iife.js"></script>');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
