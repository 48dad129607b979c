// Content types as the wire sends them (`application/json; charset=utf-8`, `application/vnd.x+json`)
// reduced to what decides how a body is read. The SDK matches content types exactly; we don't.

export interface ContentType {
  /** The media type, lowercased, without parameters. */
  readonly mime: string;
  readonly structured: boolean;
  readonly batch: boolean;
  readonly json: boolean;
  readonly text: boolean;
  /** The charset parameter, lowercased and unquoted, if given. */
  readonly charset: string | undefined;
}

const charsetParameter = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/**
 * The last header parsed and its result: nearly every request of a service carries the same Content-Type, and the
 * result (frozen) depends on the text alone. Comparing the text costs less than reading it again.
 */
let last: { header: string; type: ContentType | undefined } = { header: '', type: undefined };

export function parseContentType(header: string | undefined): ContentType | undefined {
  if (header === undefined) return undefined;
  if (header === last.header) return last.type;
  const type = readContentType(header);
  last = { header, type };
  return type;
}

function readContentType(header: string): ContentType | undefined {
  // The media type is what precedes the first `;` (indexOf: split made an array and went through V8's runtime).
  const semicolon = header.indexOf(';');
  const mime = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  if (mime === '') return undefined;
  const structured = mime === 'application/cloudevents+json';
  const batch = mime === 'application/cloudevents-batch+json';
  const json = mime === 'application/json' || mime === 'text/json' || mime.endsWith('+json');
  // XML is text whatever its top-level type: functions get it as a string, structured mode sends it as `data`.
  const text = mime.startsWith('text/') || mime === 'application/xml' || mime.endsWith('+xml');
  const charset = header.length > mime.length ? charsetParameter.exec(header)?.[1]?.toLowerCase() : undefined;
  return Object.freeze({ mime, structured, batch, json, text, charset });
}

const utf8Names = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
const latin1Names = new Set(['iso-8859-1', 'latin1', 'iso_8859-1', 'l1']);

/** True when text in this charset is UTF-8 bytes (no charset: UTF-8, as JSON and most text today). */
export const isUtf8Charset = (charset: string | undefined): boolean => charset === undefined || utf8Names.has(charset);

/**
 * Bytes → the string a function sees, in the declared charset. Latin-1 by Node's own table, so that the
 * string turns back into the same bytes (the WHATWG decoder reads "iso-8859-1" as windows-1252).
 * A charset nobody here can decode leaves the bytes as they are.
 */
export function decodeText(bytes: Buffer, charset: string | undefined): string | Buffer {
  if (isUtf8Charset(charset)) return bytes.toString('utf8');
  if (latin1Names.has(charset as string)) return bytes.toString('latin1');
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes;
  }
}

/** A string a function returned → bytes in the declared charset (UTF-8 unless it says Latin-1). */
export function encodeText(text: string, charset: string | undefined): Buffer {
  return Buffer.from(text, charset !== undefined && latin1Names.has(charset) ? 'latin1' : 'utf8');
}
