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
  // Synchronous writes to stdout: a line is out before the call returns, so lines keep their order even when
  // the pipe is full (the asynchronous writer reordered lines on EAGAIN retries under load) and none is lost
  // when the process is killed. Measured: within 1-4% of the asynchronous writer's req/s (bench/compare.mjs).
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
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
