/**
 * Reads README.md (and PROTOCOL.md) the way the tests that keep them true need
 * it: fenced code blocks with the marker comment above each, tables, and the
 * defaults they write. The test runner serves the repository, so pages fetch
 * `/README.md`.
 *
 * A marker is an HTML comment on the last non-blank line before a fence (GitHub
 * shows nothing of it): `<!-- example: server -->` (the command that starts what
 * the examples run against), `<!-- example: page NAME -->` (an HTML page),
 * `<!-- example: module NAME -->` (an ES module for a bundler) or
 * `<!-- example: template -->` (a shape to fill in: your backend, your host).
 */
export interface ReadmeBlock {
  /** The fence's language: `html`, `ts`, `sh`, ... */
  readonly lang: string;
  readonly code: string;
  /** What the marker says after `example:`, if there is one. */
  readonly marker: string | undefined;
  /** The nearest heading above the block. */
  readonly section: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

export async function fetchDoc(path: '/README.md' | '/PROTOCOL.md' = '/README.md'): Promise<string> {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.text();
}

const UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, KiB: 1024, MiB: 1024 ** 2 };

/** A default as the docs write it ("5", "4 MiB", "60000 ms", "50 per connection, bursts of 100") as a number. */
export function parseDefault(text: string): number {
  const match = /^(\d[\d,]*(?:\.\d+)?)\s*(ms|s|KiB|MiB)?(?![\w])/.exec(text);
  if (!match) throw new Error(`not a default the docs can mean: "${text}"`);
  return Number(match[1]!.replace(/,/g, '')) * UNITS[match[2] ?? '']!;
}

/** The rows of a table whose first cell is one option name in backticks, as name → its second cell. */
export function optionRows(rows: string[][]): Map<string, string> {
  const options = new Map<string, string>();
  for (const [name, value] of rows) {
    const option = /^`(\w+)`$/.exec(name ?? '')?.[1];
    if (option === undefined) continue; // a row that is no option ("connection offers per peer")
    if (options.has(option)) throw new Error(`${option} has two rows`);
    options.set(option, value ?? '');
  }
  return options;
}

export function fencedBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  let section = '';
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) section = heading[1]!.trim();
    const fence = /^(`{3,})(\S*)\s*$/.exec(line);
    if (!fence) continue;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length && lines[index]!.trim() !== fence[1]; index++) body.push(lines[index]!);
    let above = start - 1;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const marker = above >= 0 ? /^<!--\s*example:\s*(.*?)\s*-->$/.exec(lines[above]!.trim())?.[1] : undefined;
    blocks.push({ lang: fence[2]!, code: body.join('\n'), marker, section, line: start + 1 });
  }
  return blocks;
}

/**
 * The rows of the first table after the first line that contains `after`, as
 * cells of text (leading and trailing pipes dropped, `\|` kept as `|`).
 */
export function tableAfter(markdown: string, after: string): string[][] {
  const lines = markdown.split('\n');
  const from = lines.findIndex((line) => line.includes(after));
  if (from < 0) throw new Error(`README has no line with "${after}"`);
  let index = from + 1;
  while (index < lines.length && !lines[index]!.startsWith('|')) index++;
  const rows: string[][] = [];
  for (; index < lines.length && lines[index]!.startsWith('|'); index++) {
    const cells = lines[index]!
      .replace(/^\|/, '')
      .replace(/\|\s*$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replace(/\\\|/g, '|'));
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    rows.push(cells);
  }
  if (rows.length === 0) throw new Error(`README has no table after "${after}"`);
  return rows.slice(1);
}
