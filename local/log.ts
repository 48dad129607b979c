// One console for every part of the pipeline: each line prefixed by its component (handler, broker,
// sink, ping…) in that component's colour. The services' pino JSON lines are shown as
// `time LEVEL message {extra fields}`; anything else a child prints passes through as it is.

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const order: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };
export const levels = Object.keys(order) as Level[];

const palette = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94];
const levelColour: Record<string, number> = { trace: 90, debug: 90, info: 32, warn: 33, error: 31, fatal: 31 };

export interface ConsoleOptions {
  readonly level: Level;
  readonly colour: boolean;
  readonly write: (line: string) => void;
  readonly now?: () => Date;
  /** Width of the name column, the same for every line from the first on (default 12); longer names are cut. */
  readonly width?: number;
}

export interface ComponentLog {
  log(level: Exclude<Level, 'silent'>, message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A line a child process printed (pino JSON or plain text). */
  child(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface RunnerConsole {
  component(name: string): ComponentLog;
  /** Unprefixed output (the summary table). */
  plain(text: string): void;
}

export const defaultNameWidth = 12;

/** The name padded to the column, or cut with an ellipsis when it is longer. */
export function fitName(name: string, width: number): string {
  return name.length <= width ? name.padEnd(width) : `${name.slice(0, width - 1)}…`;
}

const paint = (on: boolean, code: number, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
const pinoLevels: Record<number, Level> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'revision', 'role', 'v']);

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const shown = Object.entries(fields).filter(([k, v]) => !hidden.has(k) && v !== undefined);
  return shown.length === 0 ? '' : ` ${JSON.stringify(Object.fromEntries(shown))}`;
}

/** A child's line as a pino record, or undefined when it is not one (plain text, a partial or broken line). */
function pinoRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** How a pino record is shown: its level (named or numeric), its time of day (else the clock's), its message. */
function pinoLine(
  record: Record<string, unknown>,
  clockTime: () => string,
): { level: string; time: string; message: string } {
  // The child filters by its own LOG_LEVEL; the runner shows what it was given.
  const level = typeof record.level === 'string' ? record.level : (pinoLevels[Number(record.level)] ?? 'info');
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : clockTime();
  const msg = record.msg;
  const message = typeof msg === 'string' ? msg : msg === undefined || msg === null ? '' : JSON.stringify(msg);
  return { level, time, message };
}

export function createConsole(options: ConsoleOptions): RunnerConsole {
  const now = options.now ?? (() => new Date());
  const colours = new Map<string, number>();
  // Fixed, not grown as components appear: the runner logs before it knows the services' names, and a column
  // that widens mid-run shifts every later line.
  const width = options.width ?? defaultNameWidth;
  const prefix = (name: string) => {
    if (!colours.has(name)) colours.set(name, palette[colours.size % palette.length] as number);
    return paint(options.colour, colours.get(name) as number, fitName(name, width));
  };
  const emit = (name: string, level: string, time: string, message: string, extra: string) => {
    const lvl = paint(options.colour, levelColour[level] ?? 37, level.toUpperCase().padEnd(5));
    options.write(`${prefix(name)} │ ${time} ${lvl} ${message}${extra}`);
  };
  const clock = (d: Date) => d.toISOString().slice(11, 23);
  return {
    plain: (text) => options.write(text),
    component(name) {
      const log: ComponentLog['log'] = (level, message, fields) => {
        if (order[level] < order[options.level]) return;
        emit(name, level, clock(now()), message, formatFields(fields));
      };
      return {
        log,
        debug: (m, f) => log('debug', m, f),
        info: (m, f) => log('info', m, f),
        warn: (m, f) => log('warn', m, f),
        error: (m, f) => log('error', m, f),
        child(line, stream) {
          if (line.trim() === '') return;
          const record = pinoRecord(line);
          if (!record) return emit(name, stream === 'stderr' ? 'error' : 'info', clock(now()), line, '');
          const { level, time, message } = pinoLine(record, () => clock(now()));
          emit(name, level, time, message, formatFields(record));
        },
      };
    },
  };
}

/** Colour when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR forces it. */
export function wantsColour(env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTty;
}
