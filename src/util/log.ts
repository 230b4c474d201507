// Structured logging (pino). Credentials never reach a log line: redaction is the last line of defence.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** A logger writing JSON lines to stderr, or to `file` (appended; the demo keeps its narrative clean). */
export function createLogger(opts: { level?: string; pretty?: boolean; file?: string } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.TRIBUTARY_LOG_LEVEL ?? 'info',
      redact: { paths: ['password', '*.password', '*.*.password', 'sql'], censor: '<redacted>' },
      base: undefined,
    },
    opts.file ? pino.destination({ dest: opts.file, sync: true, mkdir: true }) : pino.destination(2),
  );
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
