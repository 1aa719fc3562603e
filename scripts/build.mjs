// Builds dist/: the ES module (dependencies external), the script-tag bundle
// (everything inside, global `PeerInvitation`), the companion server for Node
// (dist/server/, `peer`, `ws`, `redis` and `web-push` external), the service worker
// (dist/peer-invitation-sw.js, dist/sw/), and the type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { iifeOptions } from './iife-options.mjs';

rmSync('dist', { recursive: true, force: true });

const server = { bundle: true, platform: 'node', format: 'esm', target: 'node18', sourcemap: true, logLevel: 'warning', external: ['peer', 'ws', 'redis', 'web-push'] };
const common = { entryPoints: ['src/index.ts'], bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  build({ ...common, format: 'esm', outfile: 'dist/peer-invitation.js', external: ['peerjs', 'rxjs', 'idb'] }),
  build({ ...iifeOptions, sourcemap: true, outfile: 'dist/peer-invitation.iife.js' }),
  build({ ...server, entryPoints: ['src/server/index.ts'], outfile: 'dist/server/index.js' }),
  // The service worker: a classic script (registered as is, or imported) and an ES module.
  build({ ...common, entryPoints: ['src/sw/classic.ts'], format: 'iife', outfile: 'dist/peer-invitation-sw.js' }),
  build({ ...common, entryPoints: ['src/sw/index.ts'], format: 'esm', outfile: 'dist/sw/index.js' }),
  build({ ...server, entryPoints: ['src/server/cli.ts'], outfile: 'dist/server/cli.js', banner: { js: '#!/usr/bin/env node' } }),
]);

execFileSync(
  'npx',
  ['tsc', '--declaration', '--emitDeclarationOnly', '--strict', '--skipLibCheck', '--target', 'ES2022', '--module', 'ES2022',
    '--moduleResolution', 'Bundler', '--lib', 'ES2022,DOM,DOM.Iterable', '--outDir', 'dist/types', '--rootDir', 'src', 'src/index.ts', 'src/sw/index.ts'],
  { stdio: 'inherit' },
);
execFileSync('npx', ['tsc', '-p', 'tsconfig.server.json', '--declaration', '--emitDeclarationOnly', '--noEmit', 'false', '--rootDir', 'src', '--outDir', 'dist/types'], {
  stdio: 'inherit',
});
