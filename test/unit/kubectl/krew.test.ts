import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  files: string[];
};
const text = readFileSync(join(root, 'plugins/tributary.yaml'), 'utf8');

describe('the krew manifest and the installed plugin', () => {
  it('reads the same under YAML 1.1 and 1.2', () => {
    expect(parse(text, { version: '1.1' })).toEqual(parse(text, { version: '1.2' }));
  });

  it('names the plugin, its version and a platform archive with its launcher', () => {
    const m = parse(text);
    expect([m.apiVersion, m.kind, m.metadata.name]).toEqual([
      'krew.googlecontainertools.github.com/v1alpha2',
      'Plugin',
      'tributary',
    ]);
    expect(m.spec.version).toBe(`v${pkg.version}`);
    expect(m.spec.shortDescription.length).toBeLessThanOrEqual(70);
    for (const p of m.spec.platforms) {
      expect(p.bin).toBe('kubectl-tributary');
      expect(p.uri).toContain(`/v${pkg.version}/kubectl-tributary-v${pkg.version}.tar.gz`);
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(p.selector.matchExpressions[0].values).toEqual(['linux', 'darwin']);
    }
  });

  it('is installed with the package as kubectl-tributary (an executable launcher in a shipped folder)', () => {
    const bin = pkg.bin['kubectl-tributary']!;
    expect(bin).toBe('bin/kubectl-tributary.js');
    expect(pkg.files).toContain(bin.split('/')[0]);
    accessSync(join(root, bin), constants.X_OK);
    expect(readFileSync(join(root, bin), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});
