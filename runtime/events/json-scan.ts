// Byte-level looks at JSON text that JSON.parse cannot give: how deep it nests (checked before anything
// recursive touches it: JSON.stringify overflows the stack near 5,000 levels, which used to be a 500), and
// where a top-level member's value starts and ends, so a structured event's `data` can be forwarded as the
// very bytes that came (big numbers, key order and duplicate keys intact).

/** Documented in README.md ("Event data"): deeper JSON is refused with 422. */
export const maxJsonDepth = 128;

const QUOTE = 34;
const BACKSLASH = 92;

/** Index just past the string that starts at `start` (a `"`). */
function endOfString(bytes: Uint8Array, start: number): number {
  let i = start + 1;
  while (i < bytes.length) {
    const byte = bytes[i] as number;
    if (byte === BACKSLASH) i += 2;
    else if (byte === QUOTE) return i + 1;
    else i++;
  }
  return i;
}

/** True when arrays and objects nest deeper than `limit` anywhere in the text. */
export function nestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === QUOTE) i = endOfString(bytes, i) - 1;
    else if (byte === 91 || byte === 123) {
      if (++depth > limit) return true;
    } else if (byte === 93 || byte === 125) depth--;
  }
  return false;
}

const isSpace = (byte: number | undefined) => byte === 32 || byte === 10 || byte === 13 || byte === 9;

/** Index just past the value that starts at `start` (valid JSON assumed). */
function endOfValue(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let i = start;
  while (i < bytes.length) {
    const byte = bytes[i] as number;
    if (byte === QUOTE) {
      i = endOfString(bytes, i);
      if (depth === 0) return i;
      continue;
    }
    if (byte === 91 || byte === 123) depth++;
    else if (byte === 93 || byte === 125) {
      if (depth === 0) return i; // the end of the enclosing object: a scalar ended here
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (byte === 44 || isSpace(byte))) return i;
    i++;
  }
  return i;
}

/**
 * The raw bytes of the value of top-level member `name` in a JSON object that JSON.parse has already
 * accepted, or undefined. With duplicate keys the last one counts, as it does for JSON.parse.
 */
export function topLevelMember(bytes: Buffer, name: string): Buffer | undefined {
  let found: Buffer | undefined;
  let i = 0;
  while (isSpace(bytes[i])) i++;
  i++; // "{"
  for (;;) {
    while (isSpace(bytes[i]) || bytes[i] === 44) i++;
    if (bytes[i] !== QUOTE) return found; // "}" or the end
    const keyEnd = endOfString(bytes, i);
    const rawKey = bytes.toString('utf8', i, keyEnd);
    const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
    i = keyEnd;
    while (isSpace(bytes[i]) || bytes[i] === 58) i++; // ":"
    const valueEnd = endOfValue(bytes, i);
    if (key === name) found = bytes.subarray(i, valueEnd);
    i = valueEnd;
  }
}
