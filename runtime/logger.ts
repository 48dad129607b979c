// JSON-lines logging through pino. One logger per process, children carry the event id.
import pino from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type Logger = pino.Logger;

export interface LoggerOptions {
  level: LogLevel;
  base: Record<string, unknown>;
  /** Where lines go; tests pass a stream they can read. Defaults to an asynchronous stdout writer. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  // Asynchronous stdout keeps logging off the request's critical path (lines written under load are
  // batched by sonic-boom); main.ts flushes it on exit.
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: options.base,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
