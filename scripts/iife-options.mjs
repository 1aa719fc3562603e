// The esbuild options of dist/peer-invitation.iife.js, shared by the build and the bench's size section.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `webrtc-adapter` is replaced by what PeerJS asks of it (src/iife/browser-details.ts says why). */
export const iifeOptions = {
  entryPoints: [`${root}src/index.ts`],
  bundle: true,
  target: 'es2022',
  logLevel: 'warning',
  format: 'iife',
  globalName: 'PeerInvitation',
  minify: true,
  alias: { 'webrtc-adapter': `${root}src/iife/browser-details.ts` },
};
