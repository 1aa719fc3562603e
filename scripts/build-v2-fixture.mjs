// Rebuilds test/fixtures/peer-invitation-v2.iife.js: the script-tag bundle of the plugin as
// released at commit 95b76ae (protocol version 2, the last v2 release), for the v2 <-> v3 interop
// test (test/interop-v2.test.ts). The sources come from git (`git archive`), so the fixture does
// not depend on the work tree; the dependencies are this checkout's node_modules. The esbuild
// options are that commit's own for dist/peer-invitation.iife.js (its scripts/build.mjs), but no
// source map and the global renamed to `PeerInvitationV2`, so it can sit beside the current one.
// The fixture is committed: a test run never calls this. Run: node scripts/build-v2-fixture.mjs
import { build, version as esbuildVersion } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const V2_COMMIT = '95b76ae';
const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = join(root, 'test/fixtures/peer-invitation-v2.iife.js');

const commit = execFileSync('git', ['rev-parse', `${V2_COMMIT}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
const dir = mkdtempSync(join(tmpdir(), 'peer-invitation-v2-'));
try {
  const archive = execFileSync('git', ['archive', '--format=tar', commit, 'src', 'package.json', 'tsconfig.json'], { cwd: root, maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const versions = Object.fromEntries(
    ['peerjs', 'rxjs', 'idb'].map((name) => [name, JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version]),
  );
  const result = await build({
    entryPoints: [join(dir, 'src/index.ts')],
    absWorkingDir: dir,
    bundle: true,
    target: 'es2022',
    logLevel: 'warning',
    format: 'iife',
    globalName: 'PeerInvitationV2',
    minify: true,
    write: false,
  });
  const code = withoutPublicHosts(result.outputFiles[0].text);
  const header = [
    `// peer-invitation at commit ${commit} (protocol version 2, the last v2 release),`,
    '// its script-tag bundle with the global renamed `PeerInvitationV2`: a real v2 peer for',
    '// test/interop-v2.test.ts. Generated, never edit: rebuild with `node scripts/build-v2-fixture.mjs`',
    `// (sources from git; esbuild ${esbuildVersion}, peerjs ${versions.peerjs}, rxjs ${versions.rxjs}, idb ${versions.idb}).`,
    "// PeerJS's public defaults are blanked (no default ICE servers; cloud host cloud-host.invalid, RFC 2606): tests name local servers.",
    '',
  ].join('\n');
  writeFileSync(outfile, header + code);
  console.log(`${outfile}: ${(header.length + code.length).toLocaleString('en')} bytes`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * PeerJS's defaults name public hosts: its cloud PeerServer and, for a Peer without `config`,
 * Google's STUN and PeerJS's TURN servers. The tests always pass a local PeerServer and
 * `iceServers: []`; blanking the defaults in the committed fixture keeps it from ever reaching
 * one if a test forgot to. Each replacement must match, or the build fails.
 */
function withoutPublicHosts(code) {
  const replacements = [
    [/\{urls:"stun:stun\.l\.google\.com:19302"\},\{urls:\["turn:eu-0\.turn\.peerjs\.com:3478","turn:us-0\.turn\.peerjs\.com:3478"\],username:"peerjs",credential:"peerjsp"\}/, ''],
    [/"0\.peerjs\.com"/, '"cloud-host.invalid"'],
  ];
  for (const [pattern, replacement] of replacements) {
    if (!pattern.test(code)) throw new Error(`build-v2-fixture: PeerJS default ${pattern} not found; check the replacement`);
    code = code.replace(pattern, replacement);
  }
  return code;
}
