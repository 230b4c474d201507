#!/usr/bin/env node
// kubectl-tributary: `kubectl tributary status | switchover | ack`. Exit 0 = done, 1 = error, refused,
// aborted or timed out (one line on stderr for errors).
import { Command, CommanderError, Option } from 'commander';
import { oneLine, UserError } from '../util/errors.js';
import type { ClusterOptions } from './cluster.js';

const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new UserError(
      `--timeout must be seconds, more than 0 and at most 86400, got "${oneLine(value, 40)}"`,
    );
  return n;
};

function build(run: (code: Promise<number>) => void): Command {
  const program = new Command('kubectl tributary')
    .description('MySQLTopology resources of Tributary, from their status (no database access)')
    .option(
      '-n, --namespace <namespace>',
      'namespace of the topology (default: the context\'s, else "default")',
    )
    .option('--context <context>', 'kubeconfig context to use')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)')
    .showHelpAfterError(false)
    .exitOverride();
  const cluster = (): ClusterOptions => program.opts<ClusterOptions>();
  const commands = () => import('./commands.js');

  program
    .command('status')
    .description('draw the topology as `tributary status` does, from its status')
    .argument('<name>', 'the MySQLTopology')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['tree', 'json']).default('tree'))
    .action((name: string, o: { output: 'tree' | 'json' }) =>
      run(commands().then((c) => c.statusCommand(name, { ...cluster(), ...o }))),
    );

  program
    .command('switchover')
    .description('ask the operator for a planned switchover of a group, and wait for its end')
    .argument('<name>', 'the MySQLTopology')
    .requiredOption('--group <group>', 'group to switch over')
    .requiredOption('--to <member>', 'member to promote')
    .option('--timeout <seconds>', 'how long to wait for the result', seconds, 120)
    .action((name: string, o: { group: string; to: string; timeout: number }) =>
      run(commands().then((c) => c.switchoverCommand(name, { ...cluster(), ...o }))),
    );

  program
    .command('ack')
    .description("acknowledge a group's last failover (lifts its cooldown), and wait until status shows it")
    .argument('<name>', 'the MySQLTopology')
    .requiredOption('--group <group>', 'group whose failover to acknowledge')
    .option('--timeout <seconds>', 'how long to wait for the result', seconds, 60)
    .action((name: string, o: { group: string; timeout: number }) =>
      run(commands().then((c) => c.ackCommand(name, { ...cluster(), ...o }))),
    );
  return program;
}

async function main(argv: string[]): Promise<void> {
  let pending: Promise<number> | undefined;
  try {
    await build((p) => (pending = p)).parseAsync(argv);
    process.exitCode = (await pending) ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`kubectl-tributary: ${oneLine(message)}\n`);
    if (process.env.TRIBUTARY_DEBUG && !(e instanceof UserError)) console.error(e);
    process.exitCode = 1;
  }
}

await main(process.argv);
