// A dead letter from an HTTP request, leniently. The dlq is the last stop of an event: refusing one with a
// 4xx makes Knative drop it, and the most common reason an event is dead-lettered at all is that it is
// malformed. So the strict CloudEvent parser is tried first, and whatever it refuses (broken JSON data, a
// charset=utf-16 body, extension names that are legal on the wire but not to the SDK such as `validate`,
// `__proto__` or longer than 20 characters, anything that throws) is kept raw: the request body byte for
// byte as data_base64, every attribute that could be read, and the reason. Only a request with no CloudEvent
// attribute anywhere is refused (400): that is not a dead letter, it is a wrong address.
//
// A valid CloudEvent is kept as it came: its attributes as given (ce- headers percent-decoded, as the HTTP
// binding §3.1.3.2 says) and its data as the bytes that came (record.ts, StoredData), so a replay sends them
// unchanged. A CloudEvent attribute sent in more than one header (which every other route refuses, app.ts)
// is captured raw: the first value kept, every value in the reason. A raw capture percent-decodes ce- header
// values too, and keeps one whose encoding is invalid as typed, saying so in the reason.
import type { IncomingHttpHeaders } from 'node:http';
import { parseEvent } from '../events/parse.js';
import { decodeHeaderValue } from '../events/percent.js';
import { HttpError } from '../http/errors.js';
import { storedData, type StoredData } from './record.js';

export interface ReadDeadLetter {
  /** The event's attributes in structured JSON form. Null-prototype when captured raw (any name is data). */
  readonly event: Record<string, unknown>;
  /** A valid CloudEvent's data as it came; a raw capture keeps the body in event.data_base64. */
  readonly data?: StoredData;
  /** Why it was captured raw; undefined for a valid CloudEvent. */
  readonly invalid?: string;
}

/** The request as Node gives it: `headers` joins a repeated header into "a, b"; `rawHeaders` has each. */
export interface DeadLetterRequest {
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

const requiredAttributes = ['specversion', 'id', 'source', 'type'];
const reasonChars = 300;
const noteValueChars = 100;
/** Notes on the headers (a value per repeated header at most) stay readable: cut beyond this. */
const notesChars = 2000;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function isStructured(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/cloudevents+json';
}

const quoted = (value: string) =>
  JSON.stringify(value.length > noteValueChars ? `${value.slice(0, noteValueChars)}…` : value);

/**
 * Attributes from ce-* headers, from the raw list (names lower-cased, each name kept as sent): values
 * percent-decoded where the encoding is valid, kept as typed where not; a repeated header's first value.
 * What was not as it should be goes into `notes`.
 */
function headerAttributes(rawHeaders: readonly string[], into: Record<string, unknown>, notes: string[]): number {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (!name.startsWith('ce-') || name.length === 3) continue;
    const all = values.get(name) ?? [];
    all.push(rawHeaders[i + 1] as string);
    values.set(name, all);
  }
  for (const [name, all] of values) {
    const attribute = name.slice(3);
    const raw = all[0] as string;
    let value = raw;
    try {
      value = decodeHeaderValue(attribute, raw);
    } catch (err) {
      notes.push(`${name} kept as typed: ${(err as Error).message}`);
    }
    if (all.length > 1)
      notes.push(`${name} was sent ${all.length} times, the first kept (${all.map(quoted).join(', ')})`);
    into[attribute] = value;
  }
  return values.size;
}

/** Top-level primitives of a structured body; `data` is replaced by the raw body (see below). */
function structuredAttributes(body: Buffer, into: Record<string, unknown>): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 0;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 0;
  let found = 0;
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'data' || name === 'data_base64') continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    into[name] = value;
    if (requiredAttributes.includes(name)) found++;
  }
  return found;
}

function rawCapture(request: DeadLetterRequest, body: Buffer, notes: string[]): Record<string, unknown> | undefined {
  const contentType = first(request.headers['content-type']);
  // Null prototype: `__proto__` or `constructor` sent as an attribute is just a name here.
  const event = Object.create(null) as Record<string, unknown>;
  let found = headerAttributes(request.rawHeaders, event, notes);
  if (isStructured(contentType)) found += structuredAttributes(body, event);
  else if (contentType !== undefined) event.datacontenttype = contentType;
  if (found === 0) return undefined;
  // Binary mode: the body is the data. Structured: the body is the whole event, kept whole.
  if (body.length > 0) event.data_base64 = body.toString('base64');
  return event;
}

function describe(err: unknown): string {
  const message =
    err instanceof HttpError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return message.length > reasonChars ? `${message.slice(0, reasonChars)}…` : message;
}

export function readDeadLetter(
  request: DeadLetterRequest,
  body: Buffer,
  options: { newId: () => string; now: () => Date },
): ReadDeadLetter {
  const { headers } = request;
  let reason: string;
  try {
    // Node joins a repeated header into one value that would pass for an attribute: the parse step refuses
    // it from the raw headers, and it is captured raw below instead.
    const { wire } = parseEvent(
      headers,
      body,
      { legacy: false, requireJson: false, newId: options.newId, now: options.now },
      request.rawHeaders,
    );
    // The SDK's checks passed (parseEvent), so every name is an attribute name: never `__proto__`.
    const event: Record<string, unknown> = {};
    for (const [name, value] of wire.attributes) event[name] = value;
    return wire.data === undefined ? { event } : { event, data: storedData(wire.data, wire.datacontenttype) };
  } catch (err) {
    // A 415 for a batch is a refusal of the request's form, not of a dead letter we could keep.
    if (err instanceof HttpError && err.status === 415) throw err;
    reason = describe(err);
  }
  const notes: string[] = [];
  const event = rawCapture(request, body, notes);
  if (!event) {
    throw new HttpError(
      400,
      'missing_attributes',
      `not a CloudEvent: no ce-* headers and no CloudEvent attributes in the body (${reason})`,
    );
  }
  const structured = isStructured(first(headers['content-type']));
  const joined = notes.join('; ');
  const noted =
    notes.length === 0 ? '' : `; ${joined.length > notesChars ? `${joined.slice(0, notesChars)}…` : joined}`;
  return { event, invalid: `${reason}${noted}${structured ? ' (data_base64 holds the whole request body)' : ''}` };
}
