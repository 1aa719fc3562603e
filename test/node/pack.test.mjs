// What `npm pack` puts in the package, after a build (`npm run build`, as for every
// Node test) and a demo build (what `npm start` adds): the library, the server, the
// types and the docs, nothing else; in particular never the 1.4 MB demo bundle.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_BUNDLE, buildDemo } from '../../scripts/build-demo.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every file the package may hold; a file that matches none is a mistake in `files` or in a build. */
const ALLOWED = [
  /^package\.json$/,
  /^(README|PROTOCOL)\.md$/,
  /^LICENSE$/,
  /^dist\/peer-invitation(\.iife)?\.js(\.map)?$/,
  /^dist\/server\/[\w-]+\.js(\.map)?$/,
  /^dist\/peer-invitation-sw\.js(\.map)?$/,
  /^dist\/sw\/index\.js(\.map)?$/,
  /^dist\/types\/([\w-]+\/)*[\w-]+\.d\.ts$/,
];

/** `npm pack --dry-run --json`: the tarball's file list, without writing it. */
function packedFiles() {
  return new Promise((resolve, reject) => {
    execFile('npm', ['pack', '--dry-run', '--json'], { cwd: root, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`npm pack failed: ${error.message}\n${stderr}`));
      const [pack] = JSON.parse(stdout);
      resolve({ files: pack.files.map((file) => file.path), size: pack.size, unpackedSize: pack.unpackedSize });
    });
  });
}

/** The files package.json points at: main, module, types, every export and the command. */
function entryPoints() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const targets = [manifest.main, manifest.module, manifest.types, ...Object.values(manifest.bin ?? {})];
  const walk = (value) => (typeof value === 'string' ? targets.push(value) : Object.values(value).forEach(walk));
  walk(manifest.exports);
  return [...new Set(targets.map((target) => target.replace(/^\.\//, '')))];
}

describe('npm pack', () => {
  it('ships the library, the server, the types and the docs, and not the demo', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(join(root, 'dist/peer-invitation.js')), 'dist/ is missing: run `npm run build` first');
    await buildDemo();
    assert.ok(existsSync(join(root, DEMO_BUNDLE)), `the demo build wrote no ${DEMO_BUNDLE}`);

    const { files, size, unpackedSize } = await packedFiles();
    const unexpected = files.filter((file) => !ALLOWED.some((pattern) => pattern.test(file)));
    assert.deepEqual(unexpected, [], `files in the package that no rule allows (size ${size} B packed, ${unpackedSize} B unpacked)`);
    assert.ok(!files.includes(DEMO_BUNDLE), `${DEMO_BUNDLE} is in the package`);
    const missing = entryPoints().filter((target) => !files.includes(target));
    assert.deepEqual(missing, [], 'package.json names files the package lacks');
    for (const doc of ['README.md', 'PROTOCOL.md', 'LICENSE']) assert.ok(files.includes(doc), `${doc} is not in the package`);
    console.log(`npm pack: ${files.length} files, ${size} B packed, ${unpackedSize} B unpacked`);
  });
});
