// Builds dist/: the ES module (dependencies external), the script-tag bundle
// (everything inside, global `PeerInvitation`), and the type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });

const common = { entryPoints: ['src/index.ts'], bundle: true, target: 'es2022', sourcemap: true, logLevel: 'warning' };
await Promise.all([
  build({ ...common, format: 'esm', outfile: 'dist/peer-invitation.js', external: ['peerjs', 'rxjs', 'idb'] }),
  build({ ...common, format: 'iife', globalName: 'PeerInvitation', minify: true, outfile: 'dist/peer-invitation.iife.js' }),
]);

execFileSync(
  'npx',
  ['tsc', '--declaration', '--emitDeclarationOnly', '--strict', '--skipLibCheck', '--target', 'ES2022', '--module', 'ES2022',
    '--moduleResolution', 'Bundler', '--lib', 'ES2022,DOM,DOM.Iterable', '--outDir', 'dist/types', '--rootDir', 'src', 'src/index.ts'],
  { stdio: 'inherit' },
);
