// The layers of docs/design.md, read from the source: every relative import of every file under src/
// points down the order (or stays inside its own layer). util may be imported from anywhere and imports
// no layer. store sits under controller (it needs only api and util: plan asks nothing of it), sandbox
// beside observe (local servers, built on sql), ui and kubectl above the controller they drive.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');

/** Rank of each layer: an import must go to a strictly lower rank (or the same layer, or util). */
const RANK: Record<string, number> = {
  api: 0,
  sql: 1,
  observe: 2,
  sandbox: 2,
  analyze: 3,
  plan: 4,
  execute: 5,
  report: 5,
  store: 6,
  controller: 7,
  ui: 8,
  cli: 9,
  kubectl: 10,
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of `import … from '…'`, `export … from '…'` and `import('…')`. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]+)['"]/g))
    out.push(m[1]!);
  return out;
}

const layerOf = (file: string): string => relative(SRC, file).split('/')[0]!;

function backEdges(): string[] {
  const out: string[] = [];
  for (const file of files(SRC)) {
    const from = layerOf(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = layerOf(resolve(dirname(file), spec));
      if (to === from || to === 'util') continue;
      const ok =
        from !== 'util' && RANK[from] !== undefined && RANK[to] !== undefined && RANK[to]! < RANK[from]!;
      if (!ok) out.push(`${relative(SRC, file)} imports ${spec} (${from} → ${to})`);
    }
  }
  return out;
}

describe('the layer order of src/', () => {
  it('every layer under src/ has a rank', () => {
    const layers = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'util')
      .map((e) => e.name);
    expect(layers.filter((l) => RANK[l] === undefined)).toEqual([]);
  });

  it('reads the imports it judges (the rule is not vacuous)', () => {
    expect(
      importsOf(`import { a } from '../plan/x.js';\nexport * from './y.js';\nawait import('../z.js');`),
    ).toEqual(['../plan/x.js', './y.js', '../z.js']);
    const all = files(SRC).flatMap((f) => importsOf(readFileSync(f, 'utf8')));
    expect(all.length).toBeGreaterThan(200);
  });

  it('no import points up the order', () => {
    expect(backEdges()).toEqual([]);
  });
});
