// --max-connections-per-server of `operator` and `local`: how many connections the process may hold open
// to one server at once, whatever the login (the pool queues beyond it).
import { Option } from 'commander';
import { DEFAULT_MAX_CONNECTIONS_PER_SERVER, MAX_CONNECTIONS_PER_SERVER } from '../sql/server-connections.js';
import { oneLine, UserError } from '../util/errors.js';

export function maxConnectionsOption(): Option {
  return new Option(
    '--max-connections-per-server <n>',
    `the most connections held open to one server (host:port) at once, whatever the login (1–${MAX_CONNECTIONS_PER_SERVER}); more wait their turn`,
  )
    .argParser(parseMaxConnectionsPerServer)
    .default(DEFAULT_MAX_CONNECTIONS_PER_SERVER);
}

/** A whole number 1–16, or one line naming the flag. */
export function parseMaxConnectionsPerServer(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS_PER_SERVER)
    throw new UserError(
      `--max-connections-per-server must be a whole number 1–${MAX_CONNECTIONS_PER_SERVER}, got "${oneLine(value, 40)}"`,
    );
  return n;
}
