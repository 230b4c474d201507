// --max-connections-per-server: a whole number 1–16, or one line naming the flag.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { maxConnectionsOption, parseMaxConnectionsPerServer } from '../../../src/cli/connection-limit.js';
import { UserError } from '../../../src/util/errors.js';

describe('--max-connections-per-server', () => {
  it.each([
    ['1', 1],
    ['2', 2],
    ['16', 16],
  ])('%s', (value, n) => {
    expect(parseMaxConnectionsPerServer(value)).toBe(n);
  });

  it.each(['0', '17', '-1', '2.5', 'two', '', ' ', '1e3'])('"%s" is refused in one line', (value) => {
    let err: unknown;
    try {
      parseMaxConnectionsPerServer(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).toBe(`--max-connections-per-server must be a whole number 1–16, got "${value}"`);
    expect(message).not.toContain('\n');
  });

  it('defaults to 2 and parses what is given, as commander reads the command line', () => {
    const parse = (args: string[]) =>
      new Command('x')
        .exitOverride()
        .addOption(maxConnectionsOption())
        .parse(args, { from: 'user' })
        .opts<{ maxConnectionsPerServer: number }>().maxConnectionsPerServer;
    expect(parse([])).toBe(2);
    expect(parse(['--max-connections-per-server', '5'])).toBe(5);
    expect(() => parse(['--max-connections-per-server', '0'])).toThrow(UserError);
  });
});
