// A line of fixed fields at level info, serialised by hand into the text pino itself would write, and written
// through the logger's own stream: pino stays the logger (its level, its time function, its base and child
// bindings, its destination), only its per-line work goes. That work was ≈ 14k instructions per request on the
// request line (callgrind: a `for…in` over the object with a megamorphic load per key from the object, the
// serializers and the stringifiers, and a string escape per value); the line by hand is a few string joins.
// A logger that does anything to a line (mixin, hooks, serializers or redaction of these fields, a message
// prefix, a nested key, a log formatter, a stream that wants the line's metadata) and any value that is not a
// number or plain text go through `log.info` as before, so the content is pino's in every case.
import { channel } from 'node:diagnostics_channel';
import pino from 'pino';
import type { Logger } from './logger.js';

/** A field's value: text, a number or nothing (left out of the line, as pino leaves out `undefined`). */
export type LineValue = string | number | undefined;

/**
 * Writes `msg` at level info with `values` under `keys` (in that order), as `log.info(object, msg)` would.
 * The values come as a list so the fast path makes no object per line.
 */
export type InfoLineWriter = (log: Logger, values: readonly LineValue[]) => void;

/** The symbols of pino's instance fields the fast path reads (pino.symbols: public, the same across pino 7-10). */
type PinoSymbols = Record<
  | 'chindingsSym'
  | 'endSym'
  | 'formattersSym'
  | 'hooksSym'
  | 'lsCacheSym'
  | 'messageKeySym'
  | 'mixinSym'
  | 'msgPrefixSym'
  | 'needsMetadataGsym'
  | 'nestedKeySym'
  | 'serializersSym'
  | 'streamSym'
  | 'stringifiersSym'
  | 'timeSym',
  symbol
>;
const {
  chindingsSym,
  endSym,
  formattersSym,
  hooksSym,
  lsCacheSym,
  messageKeySym,
  mixinSym,
  msgPrefixSym,
  needsMetadataGsym,
  nestedKeySym,
  serializersSym,
  streamSym,
  stringifiersSym,
  timeSym,
} = pino.symbols as unknown as PinoSymbols;

/** A pino instance, as the fast path reads it. */
interface PinoInternals {
  readonly levels: { readonly values: Readonly<Record<string, number>> };
  readonly [key: symbol]: unknown;
}

/**
 * Text that pino's string escape writes as it is between quotes (and JSON.stringify too, for long text):
 * printable ASCII without `"` and `\`. Anything else falls back to pino, whose escape of short text differs
 * from JSON's for lone surrogates.
 */
function plainText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}

/** The fields' part of the line (`,"key":value` each), or undefined when a value needs pino's own serialising. */
function fieldsText(keyTexts: readonly string[], values: readonly LineValue[]): string | undefined {
  let text = '';
  for (let i = 0; i < keyTexts.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    if (typeof value === 'number') text += `${keyTexts[i]}${Number.isFinite(value) ? value : 'null'}`;
    else if (typeof value === 'string' && plainText(value)) text += `${keyTexts[i]}"${value}"`;
    else return undefined;
  }
  return text;
}

const isEmpty = (record: object) =>
  Object.keys(record).length === 0 && Object.getOwnPropertySymbols(record).length === 0;

/** True when pino would write `keys` and `msg` of a line to this logger's stream unchanged (nothing hooks in). */
export function writesByHand(log: Logger, keys: readonly string[]): boolean {
  const p = log as unknown as PinoInternals;
  const hooks = p[hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const serializers = p[serializersSym] as Record<string, unknown>;
  const formatters = p[formattersSym] as { log?: unknown } | undefined;
  const stream = p[streamSym] as Record<symbol, unknown> | undefined;
  const messageKey = p[messageKeySym];
  return (
    typeof p.levels.values.info === 'number' &&
    typeof messageKey === 'string' &&
    plainText(messageKey) &&
    !p[mixinSym] &&
    hooks?.logMethod === undefined &&
    hooks?.streamWrite === undefined &&
    typeof p[msgPrefixSym] !== 'string' &&
    !p[nestedKeySym] &&
    formatters?.log === undefined &&
    isEmpty(p[stringifiersSym] as object) &&
    [...keys, messageKey].every((key) => serializers[key] === undefined) &&
    stream !== undefined &&
    stream[needsMetadataGsym] !== true
  );
}

/**
 * Subscribed to pino's diagnostics channel of a line's serialising (a tracer, say): it sees pino do it. The channels
 * are held, not looked up by name per line: Node keeps channels by name behind WeakRefs, and a lookup's deref()
 * goes through V8's runtime (≈ 300 instructions, twice a request). Held here, pino's tracingChannel finds these.
 */
const pinoChannels = [channel('tracing:pino_asJson:start'), channel('tracing:pino_asJson:end')] as const;
const pinoLineTraced = () => pinoChannels[0].hasSubscribers || pinoChannels[1].hasSubscribers;

/** A writer of one kind of line: its keys and message fixed, quoted once here. */
export function infoLineWriter(keys: readonly string[], msg: string): InfoLineWriter {
  if (!keys.every(plainText) || !plainText(msg)) throw new Error('infoLineWriter: keys and message must be plain text');
  const keyTexts = keys.map((key) => `,"${key}":`);
  let checked: Logger | undefined;
  let byHand = false;
  let msgText = '';
  const viaPino = (log: Logger, values: readonly LineValue[]) => {
    const fields: Record<string, LineValue> = {};
    keys.forEach((key, i) => (fields[key] = values[i]));
    log.info(fields, msg);
  };
  return (log, values) => {
    if (log !== checked) {
      checked = log;
      byHand = writesByHand(log, keys);
      msgText = `,"${(log as unknown as PinoInternals)[messageKeySym] as string}":"${msg}"`;
    }
    // Disabled: pino's `info` is a no-op then.
    if (!log.isLevelEnabled('info')) return;
    const fields = byHand && !pinoLineTraced() ? fieldsText(keyTexts, values) : undefined;
    if (fields === undefined) return viaPino(log, values);
    const p = log as unknown as PinoInternals;
    const level = p.levels.values.info as number;
    const prefix = (p[lsCacheSym] as Record<number, string>)[level] as string;
    const time = (p[timeSym] as () => string)();
    const line = prefix + time + (p[chindingsSym] as string) + fields + msgText + (p[endSym] as string);
    (p[streamSym] as { write(line: string): unknown }).write(line);
  };
}
