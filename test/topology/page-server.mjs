// Serves the topology page and the script-tag bundle (dist/, from `npm run build`) over plain
// HTTP. It listens on every address of the server side (inside netns-run: its own veth and the
// client namespaces' links, nothing else), so each page loads from its own side's address.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const files = {
  '/': ['page.html', 'text/html'],
  '/page.js': ['page.js', 'text/javascript'],
  '/peer-invitation.iife.js': ['../../dist/peer-invitation.iife.js', 'text/javascript'],
  // Raw PeerJS, for the bench's baseline.
  '/peerjs.min.js': ['../../node_modules/peerjs/dist/peerjs.min.js', 'text/javascript'],
};

/** Resolves `{ port, url(ip), close() }`. */
export function startPageServer() {
  const server = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://page').pathname];
    if (!file) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
    response.end(readFileSync(new URL(file[0], import.meta.url)));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address();
      resolve({
        port,
        url: (ip) => `http://${ip}:${port}/`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
