// JSON-lines logging through pino. One logger per process, children carry the event id.
import { writeSync } from 'node:fs';
import pino from 'pino';
import { isoString } from './events/iso-time.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type Logger = pino.Logger;

export interface LoggerOptions {
  level: LogLevel;
  base: Record<string, unknown>;
  /** Where lines go; tests pass a stream they can read. Defaults to stdout, one write per event-loop turn. */
  destination?: pino.DestinationStream;
}

/** What the batching stream writes to: synchronous, so a batch is out before `write` returns. */
export interface LineSink {
  write(chunk: string): unknown;
}

export interface TurnBatchingStream extends pino.DestinationStream {
  /** Writes what is pending now (process exit, a fatal path). */
  flushSync(): void;
  /** pino's logger.flush(cb) calls this: pending lines written, then `cb`. */
  flush(cb?: (err?: Error) => void): void;
}

/** Above this many pending characters a batch is written at once, without waiting for the end of the turn. */
export const maxBatchChars = 64 * 1024;

/**
 * Lines logged during one event-loop turn, written in one synchronous write at its end (setImmediate runs after
 * the turn's I/O callbacks and their promises). A write(2) per line was ~6 µs a request (issue 19's profile);
 * a turn under load carries the lines of many requests. Order is kept (one buffer, appended in call order).
 * What a kill -9 can lose: the lines of the turn it interrupts (at most `maxBatchChars`), never older ones.
 * Normal exit, process.exit() and the SIGTERM drain (main.ts flushes the logger) write what is pending.
 */
export function turnBatchingStream(
  sink: LineSink,
  schedule: (flush: () => void) => void = (flush) => setImmediate(flush),
): TurnBatchingStream {
  let pending = '';
  let scheduled = false;
  const flushSync = () => {
    scheduled = false;
    if (pending === '') return;
    const batch = pending;
    pending = '';
    sink.write(batch);
  };
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= maxBatchChars) flushSync();
      else if (!scheduled) {
        scheduled = true;
        schedule(flushSync);
      }
    },
    flushSync,
    flush(cb) {
      flushSync();
      cb?.();
    },
  };
}

/** How long a write waits for a full pipe (EAGAIN, EBUSY) before it tries again: SonicBoom's wait. */
export const busyWriteWaitMs = 100;

/** Blocks the thread for `ms` (a write to a full pipe cannot go on until its reader has read). */
const blockFor = (ms: number) => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** fs.writeSync's two forms: text (written as UTF-8), or bytes from an offset. Returns the bytes written. */
export type WriteSync = (fd: number, data: string | Uint8Array, offset?: number, length?: number) => number;

const nodeWriteSync: WriteSync = (fd, data, offset, length) =>
  typeof data === 'string' ? writeSync(fd, data) : writeSync(fd, data, offset, length);

/**
 * A batch written to a file descriptor synchronously, every byte of it before `write` returns: the text written
 * as it is, and only when the pipe took part of it, the rest from its UTF-8 bytes; after a wait while the pipe is
 * full (EAGAIN/EBUSY), as pino's synchronous SonicBoom does. SonicBoom's own bookkeeping measured each batch's
 * UTF-8 length twice more (≈ 6k of the ≈ 9k instructions a batch cost, callgrind), for appends and
 * asynchronous writes this stream never uses. Any other error is thrown, as SonicBoom emits it.
 */
export function fdLineSink(
  fd: number,
  write: WriteSync = nodeWriteSync,
  wait: (ms: number) => void = blockFor,
): LineSink {
  return {
    write(chunk) {
      // Set once a write took only part of the batch: the batch's bytes, and how many of them are out.
      let bytes: Buffer | undefined;
      let at = 0;
      for (;;) {
        try {
          if (bytes === undefined) {
            at = write(fd, chunk);
            if (at === Buffer.byteLength(chunk)) return;
            bytes = Buffer.from(chunk, 'utf8');
          } else {
            at += write(fd, bytes, at, bytes.length - at);
            if (at === bytes.length) return;
          }
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EAGAIN' && code !== 'EBUSY') throw err;
          wait(busyWriteWaitMs);
        }
      }
    },
  };
}

/**
 * stdout: synchronous writes (a line is out before its turn ends, so lines keep their order even when the pipe
 * is full; the asynchronous writer reordered lines on EAGAIN retries under load), batched per turn. Flushed on
 * exit, however the process exits (process.exit, an uncaught exception).
 */
function stdoutDestination(): TurnBatchingStream {
  const stream = turnBatchingStream(fdLineSink(1));
  process.once('exit', () => stream.flushSync());
  return stream;
}

const isoTimestamp = () => `,"time":"${isoString(Date.now())}"`;

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? stdoutDestination();
  return pino(
    {
      level: options.level,
      base: options.base,
      messageKey: 'msg',
      // pino.stdTimeFunctions.isoTime's text, without formatting a Date per line (events/iso-time.ts).
      timestamp: isoTimestamp,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
