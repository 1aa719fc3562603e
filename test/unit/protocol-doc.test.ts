/**
 * PROTOCOL.md names options that exist, with the defaults they have: every
 * `option` [default] it writes is an option of the plugin (`delivery`, `limits`:
 * the exported defaults) or of the server (README's `startPeerServer` table), and
 * every option-like name it mentions (`max…`, `…Ms`, `…Cooldown`) is one of those
 * or a message field of its own field table. A made-up option fails here.
 */
import { expect } from '@esm-bundle/chai';
import { DEFAULT_DELIVERY, DEFAULT_LIMITS } from '../../src/options.js';
import { fetchDoc, optionRows, parseDefault, tableAfter } from '../readme-blocks.js';

describe('PROTOCOL.md: the options it names', () => {
  let protocol: string;
  /** Plugin options with their exported defaults, and server options with README's. */
  let defaults: Map<string, number | undefined>;
  let fields: Set<string>;
  before(async () => {
    const [readme, text] = await Promise.all([fetchDoc('/README.md'), fetchDoc('/PROTOCOL.md')]);
    protocol = text;
    defaults = new Map<string, number | undefined>(Object.entries({ ...DEFAULT_DELIVERY, ...DEFAULT_LIMITS }));
    for (const [name, value] of optionRows(tableAfter(readme, '| `startPeerServer(')).entries()) {
      defaults.set(name, /^\d/.test(value.replace(/`/g, '')) ? parseDefault(value.replace(/`/g, '')) : undefined);
    }
    fields = new Set(optionRows(tableAfter(protocol, 'Field rules')).keys());
  });

  it('writes each default in brackets as the code has it', () => {
    const written = [...protocol.matchAll(/`(\w+)` \[([^\]]+)\]/g)].map(([, name, value]) => ({ name: name!, value: value! }));
    expect(written.length, 'defaults written in PROTOCOL.md').to.be.greaterThan(10);
    const wrong = written.filter(({ name, value }) => !defaults.has(name) || defaults.get(name) !== parseDefault(value));
    expect(wrong, 'bracketed defaults that are no option, or not its default').to.deep.equal([]);
  });

  it('names no option that does not exist', () => {
    const mentioned = new Set([...protocol.matchAll(/`(max[A-Z]\w*|[a-z]\w*Ms|[a-z]\w*Cooldown)`/g)].map(([, name]) => name!));
    expect(mentioned.size).to.be.greaterThan(10);
    const unknown = [...mentioned].filter((name) => !defaults.has(name) && !fields.has(name));
    expect(unknown, 'option-like names in PROTOCOL.md that are neither options nor message fields').to.deep.equal([]);
  });
});
