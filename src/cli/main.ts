#!/usr/bin/env node
// The command line of the design: a contract scripts and tests rely on. Exit 1 = user error, one line.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { oneLine, UserError } from '../util/errors.js';
import { maxConnectionsOption } from './connection-limit.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const fileOption = () =>
  new Option('-f, --filename <file>', 'manifest file (MySQLTopology and its Secrets); repeatable')
    .argParser(collect)
    .makeOptionMandatory();

function build(): Command {
  const program = new Command('tributary')
    .description('MySQL and MariaDB multi-source replication, channel by channel')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError(false)
    .exitOverride()
    // Every command that takes --routing-hook-persistent: it is a mode of the hook, meaningless alone.
    .hook('preAction', (_, action) => {
      const o = action.opts<{ routingHook?: string; routingHookPersistent?: boolean }>();
      if (o.routingHookPersistent && o.routingHook === undefined)
        throw new UserError(
          '--routing-hook-persistent needs --routing-hook CMD (the command to keep running)',
        );
    });

  program
    .command('operator')
    .description('run the controller against the Kubernetes API (in-cluster config or KUBECONFIG)')
    .option('--namespace <ns>', 'watch one namespace only (default: all)')
    .option('--metrics-port <port>', 'port of /metrics', parsePort, 8080)
    .option('--health-port <port>', 'port of /healthz and /readyz', parsePort, 8081)
    .option('--leader-elect', 'elect a leader with a coordination.k8s.io Lease', false)
    .option(
      '--leader-elect-lease-duration <seconds>',
      'how long a Lease holds without renewal',
      parseSeconds,
      15,
    )
    .option(
      '--leader-elect-renew-deadline <seconds>',
      'the leader stops when it cannot renew by then',
      parseSeconds,
      10,
    )
    .option('--leader-elect-retry-period <seconds>', 'how often candidates try the Lease', parseSeconds, 2)
    .option(
      '--ui-port <port>',
      'serve the read-only web view of the topologies on this port',
      parseListenPort,
    )
    .option('--ui-address <address>', 'address of the web view', '127.0.0.1')
    .addOption(routingHookOption())
    .addOption(routingHookTimeoutOption())
    .addOption(routingHookPersistentOption())
    .addOption(maxConnectionsOption())
    .action(async (o) => (await import('./commands/operator.js')).operatorCommand(o));

  program
    .command('local')
    .description('run the same controller with manifest files as its store')
    .addOption(fileOption())
    .option(
      '--once',
      'one reconciliation (with the passes an open failover needs), then exit 0 when Ready, 2 otherwise',
      false,
    )
    .option(
      '--status-out <file>',
      'status file (JSON, or YAML by extension): written on change, read back at start',
    )
    .option(
      '--ack-failover <group>',
      'lift the failover cooldown of a group (the annotation tributary.dev/ack-failover)',
      collect,
    )
    .option(
      '--ui-port <port>',
      'serve the read-only web view of the passes on this port (0: any free)',
      parseListenPort,
    )
    .option('--ui-address <address>', 'address of the web view', '127.0.0.1')
    .addOption(routingHookOption())
    .addOption(routingHookTimeoutOption())
    .addOption(routingHookPersistentOption())
    .addOption(maxConnectionsOption())
    .action(async (o) => (await import('./commands/local.js')).localCommand(o));

  program
    .command('ui')
    .description(
      'serve a read-only web view of the topology, observed every pollIntervalSeconds; writes nothing',
    )
    .addOption(fileOption())
    .option('--port <port>', 'port of the web view (0: any free)', parseListenPort, 8090)
    .option('--address <address>', 'address to listen on', '127.0.0.1')
    .option('--status-out <file>', 'status file to read the managed-channel memory and failover journal from')
    .action(async (o) => (await import('./commands/ui.js')).uiCommand(o));

  program
    .command('plan')
    .description(
      'observe and print the statements the next passes would send (a failover phase by phase, an unreachable primary taken as dead); changes nothing',
    )
    .addOption(fileOption())
    .option('--status-out <file>', 'status file to read the managed-channel memory from')
    .addOption(
      new Option(
        '--routing-hook <command>',
        'plan the routing steps a routing hook would be given (not run)',
      ),
    )
    .addOption(routingHookPersistentOption())
    .action(async (o) => (await import('./commands/plan.js')).planCommand(o));

  program
    .command('status')
    .description('observe only and show groups, members and channels')
    .addOption(fileOption())
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['tree', 'json', 'yaml']).default('tree'),
    )
    .option('--status-out <file>', 'status file to read the managed-channel memory from')
    .action(async (o) => (await import('./commands/status.js')).statusCommand(o));

  program
    .command('switchover')
    .description('planned switchover of a group to a member, with no data loss')
    .addOption(fileOption())
    .requiredOption('--group <group>', 'group to switch over')
    .requiredOption('--to <member>', 'member to promote')
    .option('--status-out <file>', 'status file (the local store memory)')
    .option('--timeout <seconds>', 'how long the target may take to catch up', Number, 30)
    .addOption(routingHookOption())
    .addOption(routingHookTimeoutOption())
    .addOption(routingHookPersistentOption())
    .action(async (o) => (await import('./commands/switchover.js')).switchoverCommand(o));

  program
    .command('crd')
    .description('print the CustomResourceDefinition YAML')
    .action(async () => (await import('./commands/crd.js')).crdCommand());

  program
    .command('demo')
    .description('a guided run on local MariaDB or MySQL servers (started and removed by the demo)')
    .option(
      '--flavor <flavor>',
      'mariadb (the host’s mariadbd), mariadb11 (MariaDB 11.8 root folder) or mysql (MySQL 9.7 root folder)',
      'mariadb',
    )
    .option('--no-failover', 'skip the failover act')
    .option('--keep', 'leave the servers running at the end until Ctrl-C', false)
    .action(async (o) => (await import('./commands/demo.js')).demoCommand(o));

  return program;
}

// Commander passes the previous value as a second argument: these parsers take one.
const parsePort = (value: string) => portIn(value, 1);
/** A port to listen on; 0 asks the system for a free one. */
const parseListenPort = (value: string) => portIn(value, 0);

/** A duration in seconds (fractions allowed), 0.1–3600. */
function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600)
    throw new UserError(`seconds must be 0.1–3600, got "${oneLine(value, 40)}"`);
  return n;
}

function portIn(value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 65535)
    throw new UserError(`port must be ${min}–65535, got "${oneLine(value, 40)}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  try {
    await build().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were printed by commander already.
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    if (e instanceof UserError || (e instanceof Error && e.name === 'InvalidInputError')) {
      process.stderr.write(`tributary: ${oneLine(e.message)}\n`);
      process.exitCode = 1;
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tributary: ${oneLine(message)}\n`);
    if (process.env.TRIBUTARY_DEBUG) console.error(e);
    process.exitCode = 1;
  }
}

await main(process.argv);

/** The routing hook: set by whoever runs Tributary, never by a field of the resource. */
function routingHookOption(): Option {
  return new Option(
    '--routing-hook <command>',
    'run this shell command with one JSON document on stdin per routing change (drain, route, readers)',
  );
}

function routingHookTimeoutOption(): Option {
  return new Option('--routing-hook-timeout <seconds>', 'how long the routing hook may take')
    .argParser(parseSeconds)
    .default(10);
}

/** One long-running hook process answering a line per step, instead of a process per step (docs/routing.md). */
function routingHookPersistentOption(): Option {
  return new Option(
    '--routing-hook-persistent',
    'start the routing hook once and send it one JSON line per routing change; it answers one line each',
  ).default(false);
}
