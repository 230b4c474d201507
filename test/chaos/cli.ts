// `npm run chaos -- --seed N --rounds R [--flavor mariadb|mysql|both]`: the chaos schedule, its report,
// exit 1 when an invariant was violated.
import { parseArgs } from 'node:util';
import type { SandboxFlavor } from '../../src/sandbox/index.js';
import { formatReport, runChaos } from './chaos.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '10' },
    flavor: { type: 'string', default: 'mariadb' },
  },
});
const seed = Number(values.seed);
const rounds = Number(values.rounds);
if (!Number.isInteger(seed) || !Number.isInteger(rounds) || rounds < 1 || rounds > 1000) {
  console.error('chaos: --seed must be an integer and --rounds 1–1000');
  process.exit(1);
}
const flavors: SandboxFlavor[] =
  values.flavor === 'both' ? ['mariadb', 'mysql'] : [values.flavor as SandboxFlavor];
let failed = false;
for (const flavor of flavors) {
  if (flavor !== 'mariadb' && flavor !== 'mysql') {
    console.error(`chaos: --flavor must be mariadb, mysql or both (got ${JSON.stringify(flavor)})`);
    process.exit(1);
  }
  const started = Date.now();
  const report = await runChaos({ seed, rounds, flavor, log: (l) => console.log(`  ${l}`) });
  console.log(formatReport(report));
  console.log(`  wall time: ${Math.round((Date.now() - started) / 1000)} s`);
  failed ||= report.violations.length > 0;
}
process.exit(failed ? 1 : 0);
