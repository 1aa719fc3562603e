// The companion server's rate limits read the wall clock (Date.now), which an operator or NTP can
// set back. A step back must neither drain an honest client's bucket nor stretch a cut-off.
// ClientLimits takes its clock as a parameter; this test bundles it from src/ with esbuild.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HOUR = 3_600_000;
let dir;
let limitsModule;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'limits-clock-'));
  const outfile = join(dir, 'limits.mjs');
  await build({ entryPoints: ['src/server/limits.ts'], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'warning' });
  limitsModule = await import(pathToFileURL(outfile).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function clientLimits(options) {
  let time = 1_000_000_000;
  const clock = { now: () => time, advance: (ms) => (time += ms) };
  const limits = new limitsModule.ClientLimits(limitsModule.resolveServerLimits(options), clock.now);
  return { limits, clock };
}

describe('server limits under a wall clock set back', { timeout: 30_000 }, () => {
  it('a step back does not drain a bucket: the sustained rate goes on', () => {
    const { limits, clock } = clientLimits({ rates: { offer: { perSecond: 2, burst: 2 } } });
    try {
      assert.equal(limits.admit('alice', 'offer'), 'admitted');
      assert.equal(limits.admit('alice', 'offer'), 'admitted');
      assert.equal(limits.admit('alice', 'offer'), 'limited', 'the burst is spent');
      clock.advance(-HOUR);
      assert.equal(limits.admit('alice', 'offer'), 'limited', 'a step back refills nothing');
      clock.advance(500);
      assert.equal(limits.admit('alice', 'offer'), 'admitted', 'half a second after the step, one token is back');
    } finally {
      limits.close();
    }
  });

  it('a step back does not stretch a cut-off', () => {
    const { limits, clock } = clientLimits({ violationsBeforeCutOff: 3, cooldownMs: 60_000 });
    try {
      for (let i = 0; i < 3; i++) limits.violation('mallory', 'test');
      assert.equal(limits.isCutOff('mallory'), true);
      assert.equal(limits.cutOffCount, 1);
      clock.advance(-HOUR);
      assert.equal(limits.isCutOff('mallory'), false, 'a cut-off that starts in the future is over');
      assert.equal(limits.violation('mallory', 'test'), false, 'and its tally starts over');
    } finally {
      limits.close();
    }
  });
});
