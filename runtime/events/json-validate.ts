// Checks that bytes are JSON without parsing them, in slices, yielding to the event loop between two: the
// handler forwards a body's bytes as they came and only needs to know they are valid JSON (RFC 8259) no deeper
// than the limit. JSON.parse of 1 MiB of small objects blocks the loop for 20-250 ms (and keeps the objects);
// this scans 64 KiB at a time (well under a millisecond each), a few slices per turn of the event loop for all
// bodies together (turn-queue.ts), and allocates nothing per token.
// Its verdict is JSON.parse(bytes.toString('utf8'))'s: bytes ≥ 0x80 are accepted inside strings only (invalid
// UTF-8 decodes to U+FFFD there, which JSON.parse takes), a BOM is refused as JSON.parse refuses it.
// test/json-validate.test.ts checks that against JSON.parse on arbitrary and mutated JSON.
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../http/errors.js';
import { heavyBodyBytes, takeHeavyTurn } from '../http/heavy-turns.js';
import { turnQueue, type RunInSlices } from '../http/turn-queue.js';
import { parseContentType } from './content-type.js';
import { maxJsonDepth } from './json-scan.js';

/** Bytes scanned between two yields to the event loop. */
export const jsonSliceBytes = 64 * 1024;

// What the scanner expects next, at a token boundary.
const VALUE = 0; // a value (after ":" or "," in an array, or at the start)
const ARRAY_FIRST = 1; // a value or "]"
const OBJECT_FIRST = 2; // a key or "}"
const KEY = 3; // a key (after "," in an object)
const AFTER_VALUE = 4; // "," or the closing bracket of the container
const DONE = 5; // only whitespace (the top-level value is complete)

const IN_ARRAY = 1;
const IN_OBJECT = 2;

const isSpace = (byte: number) => byte === 32 || byte === 10 || byte === 13 || byte === 9;
const isDigit = (byte: number) => byte >= 48 && byte <= 57;
const isHex = (byte: number) => isDigit(byte) || (byte >= 65 && byte <= 70) || (byte >= 97 && byte <= 102);
// After a backslash: " \ / b f n r t (u is handled apart).
const isSimpleEscape = (byte: number) =>
  byte === 34 ||
  byte === 92 ||
  byte === 47 ||
  byte === 98 ||
  byte === 102 ||
  byte === 110 ||
  byte === 114 ||
  byte === 116;

/** Index just past the digits from `at` on. */
function digitsEnd(bytes: Uint8Array, at: number): number {
  let j = at;
  while (j < bytes.length && isDigit(bytes[j] as number)) j++;
  return j;
}

function describeByte(byte: number): string {
  return byte > 32 && byte < 127
    ? `unexpected "${String.fromCharCode(byte)}"`
    : `unexpected byte 0x${byte.toString(16).padStart(2, '0')}`;
}

/** The outcome of a scan: valid, or why not and where (`tooDeep`: nesting over the limit, a 422). */
export type JsonVerdict = { ok: true } | { ok: false; reason: string; at: number; tooDeep: boolean };

/** A resumable scanner over one buffer: `scan(end)` advances to (about) `end`, keeping its state between calls. */
export class JsonScanner {
  private pos = 0;
  private state = VALUE;
  private depth = 0;
  private readonly stack: Uint8Array;
  private failure: { reason: string; at: number; tooDeep: boolean } | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly depthLimit = maxJsonDepth,
  ) {
    this.stack = new Uint8Array(Math.min(depthLimit, bytes.length) + 2);
  }

  /** The verdict once the scan reached the end, or undefined while there is more to scan. */
  verdict(): JsonVerdict | undefined {
    if (this.failure) return { ok: false, ...this.failure };
    if (this.pos < this.bytes.length) return undefined;
    if (this.state === DONE) return { ok: true };
    return { ok: false, reason: 'unexpected end of input', at: this.bytes.length, tooDeep: false };
  }

  /** Scans tokens until the position reaches `end` (a string or number may run past it), the end, or an error. */
  scan(end: number): void {
    const bytes = this.bytes;
    const stop = Math.min(end, bytes.length);
    while (this.failure === undefined && this.pos < stop) {
      const byte = bytes[this.pos] as number;
      if (isSpace(byte)) {
        this.pos++;
        continue;
      }
      switch (this.state) {
        case AFTER_VALUE:
          this.afterValue(byte);
          break;
        case DONE:
          this.fail(describeByte(byte) + ' after the end of the JSON value', this.pos);
          break;
        case OBJECT_FIRST:
        case KEY:
          if (byte === 125 && this.state === OBJECT_FIRST) this.close();
          else this.key(byte);
          break;
        default:
          if (byte === 93 && this.state === ARRAY_FIRST) this.close();
          else this.value(byte);
      }
    }
  }

  private fail(reason: string, at: number): void {
    this.failure = { reason, at, tooDeep: false };
  }

  private valueDone(): void {
    this.state = this.depth === 0 ? DONE : AFTER_VALUE;
  }

  private close(): void {
    this.depth--;
    this.pos++;
    this.valueDone();
  }

  private open(kind: number): void {
    if (++this.depth > this.depthLimit) {
      this.failure = {
        reason: `nests arrays and objects more than ${this.depthLimit} levels deep`,
        at: this.pos,
        tooDeep: true,
      };
      return;
    }
    this.stack[this.depth] = kind;
    this.state = kind === IN_ARRAY ? ARRAY_FIRST : OBJECT_FIRST;
    this.pos++;
  }

  private afterValue(byte: number): void {
    const container = this.stack[this.depth];
    if (byte === 44) {
      this.state = container === IN_ARRAY ? VALUE : KEY;
      this.pos++;
    } else if ((byte === 93 && container === IN_ARRAY) || (byte === 125 && container === IN_OBJECT)) this.close();
    else this.fail(describeByte(byte), this.pos);
  }

  private key(byte: number): void {
    if (byte !== 34) return this.fail(`${describeByte(byte)} where a key (a string) was expected`, this.pos);
    this.string();
    if (this.failure) return;
    const bytes = this.bytes;
    while (this.pos < bytes.length && isSpace(bytes[this.pos] as number)) this.pos++;
    if (this.pos >= bytes.length) return this.fail('unexpected end of input', this.pos);
    if (bytes[this.pos] !== 58)
      return this.fail(`${describeByte(bytes[this.pos] as number)} where ":" was expected`, this.pos);
    this.pos++;
    this.state = VALUE;
  }

  private value(byte: number): void {
    if (byte === 123) return this.open(IN_OBJECT);
    if (byte === 91) return this.open(IN_ARRAY);
    if (byte === 34) this.string();
    else if (byte === 45 || isDigit(byte)) this.number();
    else if (byte === 116) this.literal('true');
    else if (byte === 102) this.literal('false');
    else if (byte === 110) this.literal('null');
    else return this.fail(describeByte(byte), this.pos);
    if (!this.failure) this.valueDone();
  }

  private literal(word: string): void {
    const bytes = this.bytes;
    for (let k = 0; k < word.length; k++) {
      const at = this.pos + k;
      if (at >= bytes.length) return this.fail('unexpected end of input', at);
      if (bytes[at] !== word.charCodeAt(k)) return this.fail(describeByte(bytes[at] as number), at);
    }
    this.pos += word.length;
  }

  /** From the opening quote to just past the closing one. */
  private string(): void {
    const bytes = this.bytes;
    let i = this.pos + 1;
    for (;;) {
      if (i >= bytes.length) return this.fail('unterminated string', i);
      const byte = bytes[i] as number;
      if (byte === 34) break;
      if (byte < 32) return this.fail(`control character 0x${byte.toString(16).padStart(2, '0')} in a string`, i);
      if (byte !== 92) {
        i++;
        continue;
      }
      const escaped = bytes[i + 1];
      if (escaped === undefined) return this.fail('unterminated string', i + 1);
      if (isSimpleEscape(escaped)) i += 2;
      else if (escaped === 117) {
        for (let k = 2; k < 6; k++) {
          const hex = bytes[i + k];
          if (hex === undefined) return this.fail('unterminated string', i + k);
          if (!isHex(hex)) return this.fail('bad \\u escape in a string', i + k);
        }
        i += 6;
      } else return this.fail('bad escape in a string', i + 1);
    }
    this.pos = i + 1;
  }

  /** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`; what follows it is the next token's business. */
  private number(): void {
    const bytes = this.bytes;
    let i = this.pos;
    if (bytes[i] === 45) i++;
    if (bytes[i] === 48) i++;
    else if (i < bytes.length && isDigit(bytes[i] as number)) i = digitsEnd(bytes, i);
    else
      return this.fail(
        i < bytes.length ? `${describeByte(bytes[i] as number)} in a number` : 'unexpected end of input',
        i,
      );
    if (bytes[i] === 46) {
      const after = digitsEnd(bytes, i + 1);
      if (after === i + 1)
        return this.fail(
          i + 1 < bytes.length ? `${describeByte(bytes[i + 1] as number)} in a number` : 'unexpected end of input',
          i + 1,
        );
      i = after;
    }
    if (bytes[i] === 101 || bytes[i] === 69) {
      i++;
      if (bytes[i] === 43 || bytes[i] === 45) i++;
      const after = digitsEnd(bytes, i);
      if (after === i)
        return this.fail(
          i < bytes.length ? `${describeByte(bytes[i] as number)} in a number` : 'unexpected end of input',
          i,
        );
      i = after;
    }
    this.pos = i;
  }
}

/**
 * The verdict on `bytes`, scanned `jsonSliceBytes` at a time in the turn queue's turns (turn-queue.ts): one
 * body at a time, a few milliseconds of scanning per turn of the event loop.
 */
export async function checkJson(
  bytes: Uint8Array,
  depthLimit = maxJsonDepth,
  sliceBytes = jsonSliceBytes,
  slices: RunInSlices = turnQueue.run,
): Promise<JsonVerdict> {
  const scanner = new JsonScanner(bytes, depthLimit);
  let end = 0;
  await slices(() => {
    end += sliceBytes;
    scanner.scan(end);
    return scanner.verdict() !== undefined;
  });
  return scanner.verdict() as JsonVerdict;
}

/** Resolves when `bytes` are valid JSON within the depth limit; else rejects: 400 `invalid_json`, 422 when too deep. */
export async function validateJson(bytes: Uint8Array, what: string, depthLimit = maxJsonDepth): Promise<void> {
  const verdict = await checkJson(bytes, depthLimit);
  if (verdict.ok) return;
  if (verdict.tooDeep)
    throw new HttpError(
      422,
      'invalid_json',
      `${what} nests arrays and objects more than ${depthLimit} levels deep (the limit)`,
    );
  throw new HttpError(400, 'invalid_json', `${what} is not valid JSON: ${verdict.reason} at byte ${verdict.at}`);
}

/**
 * True for the bodies the handler validates without parsing: large binary-mode (or legacy) JSON. Small bodies,
 * structured mode (its envelope is parsed for the attributes) and other data: false. Also what readBody is
 * told (ReadBodyOptions.jsonUnparsed), so such a body is charged to the memory budget for its bytes alone.
 */
export function validatedUnparsed(headers: IncomingHttpHeaders, bodyBytes: number): boolean {
  if (bodyBytes < heavyBodyBytes) return false;
  const rawType = headers['content-type'];
  const contentType = parseContentType(Array.isArray(rawType) ? undefined : rawType);
  return contentType?.json === true && !contentType.structured && !contentType.batch;
}

/**
 * For the handler: a body validatedUnparsed is validated here, off the event loop's critical path, and true is
 * returned, so the parse step can skip JSON.parse (ParseOptions.jsonValidated). Any other body: false, nothing
 * done. A valid one is handed back in its heavy turn (heavy-turns.ts): what follows, the event built and
 * serialised around 1 MiB of data and written to the broker, is 5-15 ms per body, and the validations of
 * several bodies ending in the same turns made it one 30 ms stretch without a probe answered.
 */
export async function prevalidateJsonBody(headers: IncomingHttpHeaders, body: Buffer): Promise<boolean> {
  if (!validatedUnparsed(headers, body.length)) return false;
  await validateJson(body, 'the request body');
  await takeHeavyTurn();
  return true;
}
