/**
 * README's tables of defaults against the defaults the package exports: every
 * option of `delivery` and `limits` has a row, every row names an option, and
 * the values agree. README is read as the test runner serves it (/README.md).
 */
import { expect } from '@esm-bundle/chai';
import { DEFAULT_DELIVERY, DEFAULT_LIMITS } from '../../src/index.js';
import { fetchReadme, tableAfter } from '../readme-blocks.js';

const UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, KiB: 1024, MiB: 1024 ** 2 };

/** A default as README writes it ("5", "4 MiB", "60000 ms", "50 per connection, bursts of 100") as a number. */
function parseDefault(text: string): number {
  const match = /^(\d[\d,]*(?:\.\d+)?)\s*(ms|s|KiB|MiB)?(?![\w])/.exec(text);
  if (!match) throw new Error(`not a default README can mean: "${text}"`);
  return Number(match[1]!.replace(/,/g, '')) * UNITS[match[2] ?? '']!;
}

/** The rows of a README table whose first cell is one option name in backticks, as name → default. */
function documentedDefaults(rows: string[][]): Record<string, number> {
  const defaults: Record<string, number> = {};
  for (const [name, value] of rows) {
    const option = /^`(\w+)`$/.exec(name ?? '')?.[1];
    if (option === undefined) continue; // a limit that is no option ("connection offers per peer")
    expect(defaults, `${option} has two rows`).to.not.have.property(option);
    defaults[option] = parseDefault(value ?? '');
  }
  return defaults;
}

describe('README: the defaults it documents', () => {
  let readme: string;
  before(async () => {
    readme = await fetchReadme();
  });

  it('reads the notations the tables use', () => {
    expect(parseDefault('5')).to.equal(5);
    expect(parseDefault('4 MiB')).to.equal(4 * 1024 * 1024);
    expect(parseDefault('60000 ms')).to.equal(60_000);
    expect(parseDefault('50 per connection, bursts of 100')).to.equal(50);
    expect(parseDefault('16, all peers together')).to.equal(16);
    expect(() => parseDefault('see below')).to.throw();
  });

  it('delivery: one row per option of DEFAULT_DELIVERY, with its value', () => {
    const documented = documentedDefaults(tableAfter(readme, '`delivery` (times in ms)'));
    expect(documented).to.deep.equal({ ...DEFAULT_DELIVERY });
  });

  it('limits: one row per option of DEFAULT_LIMITS, with its value', () => {
    const documented = documentedDefaults(tableAfter(readme, '**Limits** (`limits` option; defaults)'));
    expect(documented).to.deep.equal({ ...DEFAULT_LIMITS });
  });
});
