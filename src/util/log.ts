// Structured logging (pino). Credentials never reach a log line: redaction is the last line of defence.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.TRIBUTARY_LOG_LEVEL ?? 'info',
      redact: { paths: ['password', '*.password', '*.*.password', 'sql'], censor: '<redacted>' },
      base: undefined,
    },
    pino.destination(2),
  );
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
