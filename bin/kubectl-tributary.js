#!/usr/bin/env node
// The kubectl plugin `kubectl tributary`: the compiled code lives in dist/ (built by `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/kubectl/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('kubectl-tributary: not built yet; run `npm ci` (or `npm run build`) in the project first');
  process.exit(1);
}
await import(main);
