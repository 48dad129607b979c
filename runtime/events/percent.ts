// Header values of CloudEvent attributes, as the HTTP binding (§3.1.3.2) defines them: HTTP headers carry
// printable ASCII only, so a sender percent-encodes space, `"`, `%` and everything outside U+0021–U+007E
// as UTF-8 bytes, and a receiver undoes it (after unquoting an RFC 7230 quoted string), refusing byte
// sequences that are not valid UTF-8. Without this a subject like "日本語" makes Node throw ERR_INVALID_CHAR
// on the way out, which used to surface as a 503 and was retried forever.
import { HttpError } from '../http/errors.js';

// Everything the binding says must be encoded: not in U+0021–U+007E, or one of `"` and `%`.
const mustEncode = /[^\x21\x23\x24\x26-\x7e]+/g;
const mustEncodeTest = /[^\x21\x23\x24\x26-\x7e]/;

export function percentEncode(value: string): string {
  if (!mustEncodeTest.test(value)) return value;
  // A run at a time: a character outside the BMP is one code point, encoded as its four UTF-8 bytes.
  return value.replace(mustEncode, (run) =>
    Buffer.from(run, 'utf8').toString('hex').toUpperCase().replace(/../g, '%$&'),
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const plainAscii = /^[\x20-\x24\x26-\x7e]*$/;

function invalid(name: string, why: string): HttpError {
  return new HttpError(400, 'invalid_event', `header ce-${name}: ${why} (CloudEvents HTTP binding §3.1.3.2)`);
}

const hexValue = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : (code | 32) >= 97 && (code | 32) <= 102 ? (code | 32) - 87 : -1;

/**
 * A `ce-` header value as Node delivers it (each byte one Latin-1 character) → the attribute's string.
 * `name` only labels the error.
 */
export function decodeHeaderValue(name: string, raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
    value = value.slice(1, -1).replace(/\\([\s\S])/g, '$1');
  }
  if (plainAscii.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  if (!value.includes('%')) {
    // Raw non-ASCII bytes are outside the binding; a client that sent them most likely meant UTF-8.
    try {
      return utf8.decode(bytes);
    } catch {
      return value;
    }
  }
  const out = Buffer.allocUnsafe(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte !== 37) {
      out[length++] = byte;
      continue;
    }
    const high = hexValue(bytes[i + 1] ?? -1);
    const low = hexValue(bytes[i + 2] ?? -1);
    if (high < 0 || low < 0) throw invalid(name, `"%" must start a percent-encoded byte (%XX)`);
    out[length++] = high * 16 + low;
    i += 2;
  }
  try {
    return utf8.decode(out.subarray(0, length));
  } catch {
    throw invalid(name, 'the percent-encoded bytes are not valid UTF-8');
  }
}
