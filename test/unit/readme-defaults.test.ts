/**
 * README's tables of defaults against the defaults the package exports: every
 * option of `delivery` and `limits` has a row, every row names an option, and
 * the values agree. README is read as the test runner serves it (/README.md).
 */
import { expect } from '@esm-bundle/chai';
import { DEFAULT_DELIVERY, DEFAULT_LIMITS } from '../../src/options.js';
import { fetchDoc, optionRows, parseDefault, tableAfter } from '../readme-blocks.js';

/** The numeric defaults of a table of options, as name → value. */
function documentedDefaults(rows: string[][]): Record<string, number> {
  return Object.fromEntries([...optionRows(rows)].map(([name, value]) => [name, parseDefault(value)]));
}

describe('README: the defaults it documents', () => {
  let readme: string;
  before(async () => {
    readme = await fetchDoc();
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
