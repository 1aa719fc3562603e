// The esbuild options of dist/peer-invitation.iife.js, shared by the build and the bench's size section.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * `webrtc-adapter` and `peerjs-js-binarypack` are replaced by what PeerJS asks of them
 * (src/iife/browser-details.ts and src/iife/no-binarypack.ts say why).
 */
export const iifeOptions = {
  entryPoints: [`${root}src/index.ts`],
  bundle: true,
  target: 'es2022',
  logLevel: 'warning',
  format: 'iife',
  globalName: 'PeerInvitation',
  minify: true,
  alias: { 'webrtc-adapter': `${root}src/iife/browser-details.ts`, 'peerjs-js-binarypack': `${root}src/iife/no-binarypack.ts` },
};
