// A separate process that owns a sandbox, for the cleanup tests: it starts the servers, prints one JSON line
// {dir, pids}, then waits to be signalled.
// Run as: node --import tsx test/harness/sandbox-child.ts <baseDir> <count> [mariadb|mariadb11|mysql]
import { createSandbox, type SandboxFlavor } from '../../src/sandbox/index.js';

const [baseDir, count, flavor] = process.argv.slice(2);
const sandbox = await createSandbox({
  baseDir,
  count: Number(count ?? '1'),
  flavor: (flavor ?? 'mariadb') as SandboxFlavor,
});
process.stdout.write(JSON.stringify({ dir: sandbox.dir, pids: sandbox.servers.map((s) => s.pid) }) + '\n');
setInterval(() => {}, 60_000);
