// vitest globalSetup: runs once in the main process before any worker starts.
//  - builds the template datadir of each flavor this run covers (so parallel test files never race to
//    build it);
//  - gives this run its own sandbox root ($TRIBUTARY_SANDBOX_ROOT, inherited by the workers), and reaps
//    roots that earlier, crashed runs left behind;
//  - teardown: kills any sandbox server still running under this run's root (a worker that crashed or was
//    killed before its afterAll) and removes the root.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureTemplate,
  MariadbNotFoundError,
  MysqlNotFoundError,
  reapSandboxes,
  SANDBOX_ROOT_ENV,
} from '../../src/sandbox/index.js';
import { FLAVORS } from './flavors.js';

const RUN_PREFIX = 'tributary-test-run-';
const OWNER_FILE = 'owner.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Roots of earlier runs whose owner (the vitest main process) is gone: kill their servers, remove them. */
function reapAbandonedRuns(): void {
  for (const e of readdirSync(tmpdir())) {
    if (!e.startsWith(RUN_PREFIX)) continue;
    const root = join(tmpdir(), e);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(root, OWNER_FILE), 'utf8').trim());
    } catch {
      /* no owner file: treat as abandoned */
    }
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) continue;
    const r = reapSandboxes(root);
    if (r.killed.length > 0)
      console.warn(`[sandbox] killed ${r.killed.length} server(s) left by an earlier run in ${root}`);
    rmSync(root, { recursive: true, force: true });
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  reapAbandonedRuns();
  for (const { flavor } of FLAVORS) {
    const t0 = performance.now();
    try {
      const template = await ensureTemplate({ flavor, log: (m) => console.log(`[sandbox] ${m}`) });
      if (template.buildMs !== null)
        console.log(`[sandbox] ${flavor} template built in ${Math.round(performance.now() - t0)} ms`);
    } catch (e) {
      // Unit tests need no server: let them run. Integration tests fail with the same clear message.
      if (!(e instanceof MariadbNotFoundError) && !(e instanceof MysqlNotFoundError)) throw e;
      console.warn(`[sandbox] ${e.message}`);
    }
  }

  const root = mkdtempSync(join(tmpdir(), RUN_PREFIX));
  writeFileSync(join(root, OWNER_FILE), `${process.pid}\n`);
  const previous = process.env[SANDBOX_ROOT_ENV];
  process.env[SANDBOX_ROOT_ENV] = root;

  return async () => {
    const r = reapSandboxes(root);
    if (r.killed.length > 0)
      console.warn(
        `[sandbox] teardown killed ${r.killed.length} leftover server(s): pids ${r.killed.join(', ')}`,
      );
    rmSync(root, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
    if (previous === undefined) delete process.env[SANDBOX_ROOT_ENV];
    else process.env[SANDBOX_ROOT_ENV] = previous;
  };
}
