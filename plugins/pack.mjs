#!/usr/bin/env node
/* global console */
// Makes the krew archive of `kubectl tributary` and writes its version, URL and sha256 into
// plugins/tributary.yaml. The archive holds the built package with its production dependencies and a
// `kubectl-tributary` launcher at its root (krew links that file onto the PATH). Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = `v${pkg.version}`;
const name = `kubectl-tributary-${version}.tar.gz`;
const stage = mkdtempSync(join(tmpdir(), 'kubectl-tributary-'));
try {
  for (const p of ['dist', 'bin', 'package.json', 'package-lock.json'])
    cpSync(join(root, p), join(stage, p), { recursive: true });
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: stage,
    stdio: 'inherit',
  });
  // krew links this file from its bin directory: resolve the link to find the package beside it.
  const launcher = join(stage, 'kubectl-tributary');
  writeFileSync(
    launcher,
    '#!/bin/sh\nexec node "$(dirname "$(readlink -f "$0")")/bin/kubectl-tributary.js" "$@"\n',
  );
  chmodSync(launcher, 0o755);
  const archive = join(tmpdir(), name);
  execFileSync('tar', ['-czf', archive, '-C', stage, '.']);
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
  const manifest = join(root, 'plugins', 'tributary.yaml');
  writeFileSync(
    manifest,
    readFileSync(manifest, 'utf8')
      .replace(/version: "v[^"]*"/, `version: "${version}"`)
      .replace(/\/download\/v[^/]*\/kubectl-tributary-v[^"]*\.tar\.gz/, `/download/${version}/${name}`)
      .replace(/sha256: "[0-9a-f]{64}"/, `sha256: "${sha256}"`),
  );
  console.log(`${archive}\nsha256 ${sha256} (written into plugins/tributary.yaml)`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
