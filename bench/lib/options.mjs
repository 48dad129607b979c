// The options every benchmark script shares: --quick for a short smoke run, and the counts and durations that
// --quick shortens, each overridable on its own.
import { parseArgs } from 'node:util';

/** @typedef {[full: number, quick: number]} Pair */

/**
 * @param {{ starts: Pair, duration: Pair, warmup: Pair, rounds?: Pair }} defaults rounds: load rounds whose
 *   median is kept (lib/rounds.mjs), 1 when not given
 * @param {NonNullable<import('node:util').ParseArgsConfig['options']>} [extra] the script's own options
 */
export function readSettings(defaults, extra = {}) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      starts: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      ...extra,
    },
  });
  const quick = values.quick === true;
  /** @param {string} name @param {Pair} pair */
  const pick = (name, [full, short]) => (values[name] === undefined ? (quick ? short : full) : Number(values[name]));
  return {
    quick,
    starts: pick('starts', defaults.starts),
    durationS: pick('duration', defaults.duration),
    warmupS: pick('warmup', defaults.warmup),
    rounds: pick('rounds', defaults.rounds ?? [1, 1]),
    /** How long a server sits after its first answer before its idle RSS is read. */
    idleSettleMs: 1000,
    /** Every option as given, the script's own included. */
    values: /** @type {Record<string, string | boolean | undefined>} */ (values),
  };
}

/** @typedef {ReturnType<typeof readSettings>} Settings */

export const log = (/** @type {string} */ msg) => process.stderr.write(`${msg}\n`);
