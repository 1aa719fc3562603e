// Summarises a .cpuprofile (from BENCH_PROFILE=1 npm run bench): the functions with the most
// self time, with their share of the samples that were not idle, and the same summed by file.
//   node scripts/profile-summary.mjs bench-results/warm-page1.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/profile-summary.mjs FILE.cpuprofile [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(nodes.map((node) => [node.id, node]));
const selfMs = new Map();
samples.forEach((id, index) => selfMs.set(id, (selfMs.get(id) ?? 0) + (timeDeltas[index] ?? 0) / 1000));

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);
const byFunction = new Map();
const byFile = new Map();
let busy = 0;
for (const [id, ms] of selfMs) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const name = functionName || '(anonymous)';
  if (IDLE.has(name)) {
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    continue;
  }
  busy += ms;
  const where = url ? `${url.replace(/^.*\/(page|node_modules)\//, '$1/')}:${lineNumber + 1}` : '(native)';
  const key = `${name}  ${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
  const fileKey = url ? url.replace(/^.*\/(page|node_modules)\//, '$1/') : '(native)';
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + ms);
}
const rows = (map) => [...map].filter(([key]) => !IDLE.has(key)).sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${file}: ${busy.toFixed(1)} ms busy; idle ${(byFunction.get('(idle)') ?? 0).toFixed(1)} ms, program ${(byFunction.get('(program)') ?? 0).toFixed(1)} ms, GC ${(byFunction.get('(garbage collector)') ?? 0).toFixed(1)} ms`);
console.log('\nself time by function (share of busy time):');
for (const [key, ms] of rows(byFunction)) console.log(`${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${key}`);
console.log('\nself time by file:');
for (const [key, ms] of rows(byFile)) console.log(`${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${key}`);
