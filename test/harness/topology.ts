// Writes the design's warehouse topology for a sandbox, and runs the real command line against it.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { demoManifests } from '../../src/cli/commands/demo.js';
import { OPERATOR_PASSWORD, OPERATOR_USER, type Sandbox } from '../../src/sandbox/index.js';

const run = promisify(execFile);
export const BIN = join(import.meta.dirname, '../../bin/tributary.js');

export function writeManifests(file: string, docs: unknown[]): string {
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
}

/**
 * The demo's warehouse topology for a sandbox. The operator logs in as the sandbox's `tributary` account,
 * which has exactly the grants docs/security.md gives (src/sql/grants.ts): every suite built on this runs
 * its passes — convergence, failover, switchover — with the least privileges, not as an administrator.
 * `asAdmin` keeps the sandbox's ALL PRIVILEGES account instead.
 */
export function warehouseDocs(
  sb: Sandbox,
  mutate?: (spec: Record<string, any>) => void,
  opts: { asAdmin?: boolean } = {},
): unknown[] {
  // A copy: the demo's manifests share constants that a mutation must not change for the next caller.
  const docs = structuredClone(demoManifests(sb)) as Record<string, any>[];
  mutate?.(docs[0]!.spec);
  if (!opts.asAdmin) {
    const admin = docs.find(
      (d) => d.kind === 'Secret' && d.metadata.name === docs[0]!.spec.adminSecretRef.name,
    );
    admin!.stringData = { username: OPERATOR_USER, password: OPERATOR_PASSWORD };
  }
  return docs;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tributary …` as a child process (the built CLI), never throwing on a non-zero exit. */
export async function cli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      timeout: opts.timeoutMs ?? 60_000,
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: process.env.TRIBUTARY_LOG_LEVEL ?? 'warn' },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

export const statusFile = (sb: Sandbox, name = 'status.json') => join(sb.dir, name);
