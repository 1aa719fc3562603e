// Bundles the demo (demo/app.ts) the way an SPA would ship it, into demo-dist/:
// outside dist/, which is what the npm package ships (package.json `files`).
// `npm start` runs it after `npm run build`; `node scripts/build-demo.mjs` alone too.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The bundle, relative to the repository root; gitignored. */
export const DEMO_BUNDLE = 'demo-dist/app.js';

/** 'peer-invitation' is the ES build in dist/ (run `npm run build` first); its dependencies come from node_modules. */
export function buildDemo() {
  return build({
    absWorkingDir: root,
    entryPoints: ['demo/app.ts'],
    outfile: DEMO_BUNDLE,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    sourcemap: 'inline',
    alias: { 'peer-invitation': './dist/peer-invitation.js' },
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDemo();
