// Test helper: a sandbox that lives for one describe block (or file).
//   const sb = useSandbox({ names: ['a', 'b'] });
//   it('…', async () => { await sb().server('a').sql('SELECT 1'); });
// The servers start in beforeAll; afterAll destroys them even when tests or the start itself failed.
import { afterAll, beforeAll } from 'vitest';
import { createSandbox as create, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';

/**
 * A server that dies on its own (not stopped or killed by the test) is said on stderr with its error log's
 * last lines, so that a test failing with "connection lost" shows why the server went.
 */
const createSandbox = (opts: SandboxOptions) =>
  create({
    ...opts,
    log: (m) => {
      if (/exited unexpectedly/.test(m)) console.error(m);
      opts.log?.(m);
    },
  });

export function useSandbox(opts: SandboxOptions = {}): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await createSandbox(opts);
  });
  afterAll(async () => {
    await sandbox?.destroy();
    sandbox = undefined;
  });
  return () => {
    if (!sandbox) throw new Error('the sandbox is not running (beforeAll failed, or called outside a test)');
    return sandbox;
  };
}

/** Runs `fn` with a fresh sandbox and destroys it afterwards, whatever happens. */
export async function withSandbox<T>(opts: SandboxOptions, fn: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = await createSandbox(opts);
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.destroy();
  }
}
