// HTTP request → validated CloudEvent. Binary mode (`ce-*` headers), structured mode
// (`application/cloudevents+json`) and, for the public handler only, the legacy form existing clients
// send (`ce_type`/`ce_source` with underscores, or `ce-*` without `ce-specversion`).
// Everything the SDK lets through silently (a bad `time`, a missing specversion) is checked here:
// an invalid event is always a 400, never a 500.
import { CloudEvent, ValidationError } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../http/errors.js';
import { parseContentType } from './content-type.js';

export interface ParseOptions {
  /** Accept `ce_` headers and fill in a missing id, time and specversion (the handler's ingress). */
  readonly legacy: boolean;
  /** Require the body to be JSON (the handler forwards JSON only). */
  readonly requireJson: boolean;
  readonly newId: () => string;
  readonly now: () => Date;
}

export type ParsedEvent = CloudEvent<unknown>;

const contextAttributes = new Set(['id', 'source', 'specversion', 'type', 'datacontenttype', 'dataschema', 'subject', 'time']);
// RFC 3339 date-time, as CloudEvents requires for `time`.
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const extensionName = /^[a-z0-9]{1,20}$/;

function headerValue(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new HttpError(400, 'invalid_event', 'a CloudEvent attribute header was sent more than once');
    return value[0];
  }
  return value;
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Attributes from `ce-` (and in legacy mode `ce_`) headers. A duplicate of one attribute in both forms is refused. */
function attributesFromHeaders(headers: IncomingHttpHeaders, legacy: boolean): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  // A direct loop with character checks: Object.entries and a prefix slice per header allocated for every
  // header of every request, most of which are not ce- headers. Node's header names are lower case.
  for (const rawName in headers) {
    if (rawName.length < 3 || rawName.charCodeAt(0) !== 99 || rawName.charCodeAt(1) !== 101) continue; // "ce"
    const separator = rawName.charCodeAt(2);
    if (separator !== 45 && !(legacy && separator === 95)) continue; // "-", or "_" in legacy mode
    const name = rawName.slice(3);
    const value = headerValue(headers[rawName]);
    if (value === undefined) continue;
    if (name in attributes) throw new HttpError(400, 'invalid_event', `attribute "${name}" was sent both as ce-${name} and ce_${name}`);
    attributes[name] = value;
  }
  return attributes;
}

function attributesFromStructured(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new HttpError(400, 'empty_body', 'a structured CloudEvent needs a JSON body');
  const parsed = parseJson(body, 'the structured CloudEvent');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'invalid_event', 'a structured CloudEvent must be a JSON object');
  }
  const attributes = { ...(parsed as Record<string, unknown>) };
  if (attributes.data_base64 !== undefined) {
    if (typeof attributes.data_base64 !== 'string' || attributes.data !== undefined) {
      throw new HttpError(400, 'invalid_event', 'data_base64 must be a base64 string and cannot be sent together with data');
    }
    attributes.data = Buffer.from(attributes.data_base64, 'base64');
    delete attributes.data_base64;
  }
  return attributes;
}

function checkAttributes(attributes: Record<string, unknown>): void {
  const missing = ['specversion', 'id', 'source', 'type'].filter((name) => typeof attributes[name] !== 'string' || attributes[name] === '');
  if (missing.length > 0) {
    throw new HttpError(400, 'missing_attributes', `missing required CloudEvent attributes: ${missing.join(', ')}`, { details: missing });
  }
  if (attributes.specversion !== '1.0') {
    throw new HttpError(400, 'unsupported_specversion', `specversion must be "1.0", got ${JSON.stringify(attributes.specversion)}`);
  }
  const problems: string[] = [];
  if (attributes.time !== undefined && (typeof attributes.time !== 'string' || !rfc3339.test(attributes.time) || Number.isNaN(Date.parse(attributes.time)))) {
    problems.push(`time must be an RFC 3339 timestamp, got ${JSON.stringify(attributes.time)}`);
  }
  for (const name of Object.keys(attributes)) {
    if (name !== 'data' && !contextAttributes.has(name) && !extensionName.test(name)) {
      problems.push(`extension attribute name "${name}" must be 1-20 lowercase letters or digits`);
    }
  }
  if (problems.length > 0) throw new HttpError(400, 'invalid_event', problems.join('; '), { details: problems });
}

/**
 * Node joins a repeated header into "a, b", which would slip through as one odd attribute value.
 * A CloudEvent attribute sent twice (in any mix of ce-/ce_ and case) is refused from the raw header list.
 */
export function rejectDuplicateAttributeHeaders(rawHeaders: readonly string[]): void {
  let seen: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length < 4 || (name.charCodeAt(0) | 32) !== 99 || (name.charCodeAt(1) | 32) !== 101) continue; // "ce"
    const separator = name[2];
    if (separator !== '-' && separator !== '_') continue;
    const attribute = name.slice(3).toLowerCase();
    seen ??= new Set();
    if (seen.has(attribute)) throw new HttpError(400, 'invalid_event', `CloudEvent attribute "${attribute}" was sent in more than one header`);
    seen.add(attribute);
  }
}

export function parseCloudEvent(headers: IncomingHttpHeaders, body: Buffer, options: ParseOptions): ParsedEvent {
  const contentType = parseContentType(headerValue(headers['content-type']));
  if (contentType?.batch) throw new HttpError(415, 'unsupported_media_type', 'batched CloudEvents are not accepted: send one event per request');

  let attributes: Record<string, unknown>;
  if (contentType?.structured) {
    attributes = attributesFromStructured(body);
  } else {
    if (options.requireJson && body.length === 0) throw new HttpError(400, 'empty_body', 'the request body is empty: send the event data as JSON');
    if (options.requireJson && !contentType?.json) {
      throw new HttpError(415, 'unsupported_media_type', `expected a JSON body (Content-Type: application/json), got ${JSON.stringify(contentType?.mime ?? 'none')}`);
    }
    attributes = attributesFromHeaders(headers, options.legacy);
    if (body.length > 0) {
      attributes.data = contentType?.json ? parseJson(body, 'the request body') : contentType?.text ? body.toString('utf8') : body;
    }
    const rawType = headerValue(headers['content-type']);
    if (rawType !== undefined) attributes.datacontenttype = rawType;
  }
  if (options.legacy) {
    attributes.specversion ??= '1.0';
    attributes.id ??= options.newId();
    attributes.time ??= options.now().toISOString();
  }
  checkAttributes(attributes);
  try {
    const event = new CloudEvent<unknown>(attributes, false);
    event.validate();
    return event;
  } catch (err) {
    if (err instanceof ValidationError || err instanceof TypeError) {
      const details = err instanceof ValidationError && Array.isArray(err.errors) ? err.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))) : [];
      throw new HttpError(400, 'invalid_event', `invalid CloudEvent: ${err.message}`, { details });
    }
    throw err;
  }
}
