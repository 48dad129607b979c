// The HMAC request signature callers of the handler send (HANDLER_AUTH=hmac), as one pure function so the
// handler, `npm run send -- --sign` and the documented worked example share it. It covers everything that
// decides what the event is: the timestamp (replay window), the method, the content type (binary mode reads
// the data's type from it), every CloudEvent attribute header (`ce-*`, and the legacy `ce_*` form) and the
// body. Signing "<timestamp>.<body>" alone let a captured request be re-sent as another event type.
//
// Canonical string, lines joined by "\n" (no trailing newline):
//   <timestamp>                     decimal Unix seconds, as sent in X-Signature-Timestamp
//   <METHOD>                        upper case: POST
//   <content-type>                  the Content-Type header's value as sent (trimmed); empty line if absent
//   <name>:<value>                  one line per header whose name starts with ce- or ce_ (any case): the
//   ...                             name in lower case, the value as sent (trimmed), sorted by name
//   <sha256 of the body>            lower-case hex; of the empty string when there is no body
// Signature: X-Signature: sha256=<lower-case hex HMAC-SHA256 of the canonical string's bytes, keyed with the key's UTF-8 bytes>
// Header values are taken as the bytes on the wire (Node decodes them as Latin-1; we encode them back).
import { createHash, createHmac } from 'node:crypto';

export const signatureHeader = 'x-signature';
export const timestampHeader = 'x-signature-timestamp';

export interface SignedParts {
  readonly timestamp: string;
  readonly method: string;
  /** Header names in any case; values as sent. Only content-type and ce-/ce_ headers are used. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Buffer | string;
}

const isAttributeHeader = (name: string) => name.length > 3 && /^ce[-_]/i.test(name);

function single(value: string | readonly string[] | undefined): string {
  // A repeated attribute header is refused by the parse step (events/parse.ts), after the caller check;
  // joined here only so a signature never throws.
  return (Array.isArray(value) ? value.join(', ') : ((value as string | undefined) ?? '')).trim();
}

/** The bytes that are signed. */
export function canonicalRequest(parts: SignedParts): Buffer {
  let contentType = '';
  const attributes: Array<[string, string]> = [];
  for (const [rawName, value] of Object.entries(parts.headers)) {
    const name = rawName.toLowerCase();
    if (name === 'content-type') contentType = single(value);
    else if (isAttributeHeader(name)) attributes.push([name, single(value)]);
  }
  attributes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const bodyHash = createHash('sha256').update(parts.body).digest('hex');
  const lines = [
    parts.timestamp,
    parts.method.toUpperCase(),
    contentType,
    ...attributes.map(([name, value]) => `${name}:${value}`),
    bodyHash,
  ];
  return Buffer.from(lines.join('\n'), 'latin1');
}

/** The value of the X-Signature header for these parts: `sha256=<hex>`. */
export function signRequest(key: string, parts: SignedParts): string {
  return `sha256=${createHmac('sha256', key).update(canonicalRequest(parts)).digest('hex')}`;
}
