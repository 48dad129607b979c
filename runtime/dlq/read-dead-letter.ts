// A dead letter from an HTTP request, leniently. The dlq is the last stop of an event: refusing one with a
// 4xx makes Knative drop it, and the most common reason an event is dead-lettered at all is that it is
// malformed. So the strict CloudEvent parser is tried first, and whatever it refuses (broken JSON data, a
// charset=utf-16 body, extension names that are legal on the wire but not to the SDK such as `validate`,
// `__proto__` or longer than 20 characters, anything that throws) is kept raw: the request body byte for
// byte as data_base64, every attribute that could be read, and the reason. Only a request with no CloudEvent
// attribute anywhere is refused (400): that is not a dead letter, it is a wrong address.
import type { IncomingHttpHeaders } from 'node:http';
import { parseCloudEvent } from '../events/parse.js';
import { HttpError } from '../http/errors.js';
import { eventToJson } from './record.js';

export interface ReadDeadLetter {
  /** The event's attributes in structured JSON form. Null-prototype when captured raw (any name is data). */
  readonly event: Record<string, unknown>;
  /** Why it was captured raw; undefined for a valid CloudEvent. */
  readonly invalid?: string;
}

const requiredAttributes = ['specversion', 'id', 'source', 'type'];
const reasonChars = 300;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function isStructured(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/cloudevents+json';
}

/** Attributes from ce-* headers, every name kept as sent (header names arrive lower-cased). */
function headerAttributes(headers: IncomingHttpHeaders, into: Record<string, unknown>): number {
  let found = 0;
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('ce-') || name.length === 3) continue;
    const value = first(headers[name]);
    if (value === undefined) continue;
    into[name.slice(3)] = value;
    found++;
  }
  return found;
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

function rawCapture(headers: IncomingHttpHeaders, body: Buffer): Record<string, unknown> | undefined {
  const contentType = first(headers['content-type']);
  // Null prototype: `__proto__` or `constructor` sent as an attribute is just a name here.
  const event = Object.create(null) as Record<string, unknown>;
  let found = headerAttributes(headers, event);
  if (isStructured(contentType)) found += structuredAttributes(body, event);
  else if (contentType !== undefined) event.datacontenttype = contentType;
  if (found === 0) return undefined;
  // Binary mode: the body is the data. Structured: the body is the whole event, kept whole.
  if (body.length > 0) event.data_base64 = body.toString('base64');
  return event;
}

function describe(err: unknown): string {
  const message = err instanceof HttpError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return message.length > reasonChars ? `${message.slice(0, reasonChars)}…` : message;
}

export function readDeadLetter(headers: IncomingHttpHeaders, body: Buffer, options: { newId: () => string; now: () => Date }): ReadDeadLetter {
  let reason: string;
  try {
    const event = eventToJson(parseCloudEvent(headers, body, { legacy: false, requireJson: false, newId: options.newId, now: options.now }));
    // It has to survive being written as JSON too (a stack overflow on deep data is "bad input", not a 5xx).
    JSON.stringify(event);
    return { event };
  } catch (err) {
    // A 415 for a batch is a refusal of the request's form, not of a dead letter we could keep.
    if (err instanceof HttpError && err.status === 415) throw err;
    reason = describe(err);
  }
  const event = rawCapture(headers, body);
  if (!event) {
    throw new HttpError(400, 'missing_attributes', `not a CloudEvent: no ce-* headers and no CloudEvent attributes in the body (${reason})`);
  }
  const structured = isStructured(first(headers['content-type']));
  return { event, invalid: `${reason}${structured ? ' (data_base64 holds the whole request body)' : ''}` };
}
