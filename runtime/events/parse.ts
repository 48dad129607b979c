// HTTP request → validated CloudEvent. Binary mode (`ce-*` headers), structured mode
// (`application/cloudevents+json`) and, for the public handler only, the legacy form existing clients
// send (`ce_type`/`ce_source` with underscores, or `ce-*` without `ce-specversion`), which stays JSON-only.
// `readWireEvent` keeps what came as it came (attributes as given, data as raw bytes): the handler forwards
// that. `parseCloudEvent` turns it into the SDK CloudEvent a function is given.
// Everything the SDK lets through silently (a bad `time`, a missing specversion) is checked here, and every
// way an event can be wrong is a 4xx, never a 500.
import { CloudEvent, ValidationError } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../http/errors.js';
import { decodeText, encodeText, parseContentType, type ContentType } from './content-type.js';
import { maxJsonDepth, nestsDeeperThan, topLevelMember } from './json-scan.js';
import { isoString } from './iso-time.js';
import { decodeHeaderValue } from './percent.js';
import { cloudEventOf, validateAsSdk } from './sdk-event.js';
import { asAttributeValue, describeValue, WireEvent, type AttributeValue, type EventData } from './wire-event.js';

export interface ParseOptions {
  /** Accept the legacy form (`ce_` headers, or no `ce-specversion`) and fill in a missing id, time and specversion (the handler's ingress). */
  readonly legacy: boolean;
  /** Refuse data that is not JSON. The legacy form is JSON-only whatever this says. */
  readonly requireJson?: boolean;
  readonly newId: () => string;
  readonly now: () => Date;
  /**
   * The body (binary mode or legacy, JSON) was already checked by json-validate.ts (asynchronously, in slices):
   * its data is kept as bytes, not parsed (EventData.value stays undefined; a function's copy is parsed lazily).
   */
  readonly jsonValidated?: boolean;
}

export type ParsedEvent = CloudEvent<unknown>;

const contextAttributes = new Set([
  'id',
  'source',
  'specversion',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
]);
const optionalStrings = ['datacontenttype', 'dataschema', 'subject', 'time'];
// RFC 3339 date-time, as CloudEvents requires for `time`.
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const extensionName = /^[a-z0-9]{1,20}$/;
// A media type is ASCII (RFC 2045); anything else could not be sent on as a Content-Type header.
const headerSafe = /^[\t\x20-\x7e]+$/;
const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

function headerValue(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1)
      throw new HttpError(400, 'invalid_event', 'a CloudEvent attribute header was sent more than once');
    return value[0];
  }
  return value;
}

function tooDeep(what: string): HttpError {
  return new HttpError(
    422,
    'invalid_json',
    `${what} nests arrays and objects more than ${maxJsonDepth} levels deep (the limit)`,
  );
}

/**
 * True when the text has at most `limit` opening brackets in all, so it cannot nest deeper than that. Native
 * searches for the two bytes: an event's JSON has a few, and the byte-by-byte scan (nestsDeeperThan) cost
 * ≈ 25 instructions a byte on every body.
 */
function fewBrackets(body: Buffer, limit: number): boolean {
  let count = 0;
  for (let at = body.indexOf(123); at !== -1; at = body.indexOf(123, at + 1)) if (++count > limit) return false;
  for (let at = body.indexOf(91); at !== -1; at = body.indexOf(91, at + 1)) if (++count > limit) return false;
  return true;
}

/** Checks that the bytes are JSON (and not too deep); the parsed value, because checking parses it anyway. */
function parseJson(body: Buffer, what: string, depthLimit = maxJsonDepth): unknown {
  if (!fewBrackets(body, depthLimit) && nestsDeeperThan(body, depthLimit)) throw tooDeep(what);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Attributes from `ce-` headers (percent-decoded, as the binding says) and in legacy mode `ce_` headers (as typed). */
function attributesFromHeaders(
  headers: IncomingHttpHeaders,
  legacy: boolean,
): { attributes: Map<string, AttributeValue>; underscored: boolean } {
  const attributes = new Map<string, AttributeValue>();
  let underscored = false;
  // A direct loop with character checks: Object.entries and a prefix slice per header allocated for every
  // header of every request, most of which are not ce- headers. Node's header names are lower case.
  for (const rawName in headers) {
    if (rawName.length < 3 || rawName.charCodeAt(0) !== 99 || rawName.charCodeAt(1) !== 101) continue; // "ce"
    const separator = rawName.charCodeAt(2);
    if (separator !== 45 && !(legacy && separator === 95)) continue; // "-", or "_" in legacy mode
    const name = rawName.slice(3);
    const value = headerValue(headers[rawName]);
    if (value === undefined) continue;
    if (attributes.has(name))
      throw new HttpError(400, 'invalid_event', `attribute "${name}" was sent both as ce-${name} and ce_${name}`);
    if (separator === 95) underscored = true;
    attributes.set(name, separator === 45 ? decodeHeaderValue(name, value) : value);
  }
  return { attributes, underscored };
}

/** A binary-mode body (or legacy JSON body) as data of its content type. */
function dataFromBody(
  body: Buffer,
  contentType: ContentType | undefined,
  jsonValidated: boolean | undefined,
): EventData {
  if (contentType?.json)
    return jsonValidated
      ? { bytes: body, kind: 'json' }
      : { bytes: body, kind: 'json', value: parseJson(body, 'the request body') };
  return { bytes: body, kind: contentType?.text ? 'text' : 'binary' };
}

function fromStructured(body: Buffer): { attributes: Map<string, AttributeValue>; data: EventData | undefined } {
  if (body.length === 0) throw new HttpError(400, 'empty_body', 'a structured CloudEvent needs a JSON body');
  // One level more for the envelope itself: the limit is on the data.
  const parsed = parseJson(body, 'the structured CloudEvent', maxJsonDepth + 1);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'invalid_event', 'a structured CloudEvent must be a JSON object');
  }
  const members = parsed as Record<string, unknown>;
  const attributes = new Map<string, AttributeValue>();
  const problems: string[] = [];
  for (const name of Object.keys(members)) {
    const value = members[name];
    // null: the attribute is absent (CloudEvents JSON format).
    if (name === 'data' || name === 'data_base64' || value === null) continue;
    const typed = asAttributeValue(value);
    if (typed === undefined)
      problems.push(`attribute "${name}" must be a string, a 32-bit integer or a boolean, got ${describeValue(value)}`);
    else attributes.set(name, typed);
  }
  if (problems.length > 0) throw new HttpError(400, 'invalid_event', problems.join('; '), { details: problems });
  const type = parseContentType(typeof members.datacontenttype === 'string' ? members.datacontenttype : undefined);
  const encoded = members.data_base64 ?? undefined; // null: absent
  if (encoded !== undefined) {
    if (members.data !== undefined)
      throw new HttpError(400, 'invalid_event', 'data_base64 cannot be sent together with data');
    if (typeof encoded !== 'string' || encoded.length % 4 !== 0 || !base64.test(encoded))
      throw new HttpError(400, 'invalid_event', 'data_base64 must be a base64 string (RFC 4648)');
    // Text sent as base64 (another charset, say) is still text; anything else, JSON included, stays bytes.
    return { attributes, data: { bytes: Buffer.from(encoded, 'base64'), kind: type?.text ? 'text' : 'binary' } };
  }
  if (members.data === undefined) return { attributes, data: undefined };
  // Text of a non-JSON type travels as a JSON string; the data is its characters, in the declared charset.
  if (typeof members.data === 'string' && type !== undefined && !type.json) {
    return { attributes, data: { bytes: encodeText(members.data, type.charset), kind: 'text' } };
  }
  // JSON data: the bytes of the member exactly as they came.
  return { attributes, data: { bytes: topLevelMember(body, 'data') as Buffer, kind: 'json', value: members.data } };
}

const requiredAttributes = ['specversion', 'id', 'source', 'type'] as const;

/** The rules the SDK does not check (or checks only when asked). */
function checkAttributes(attributes: Map<string, AttributeValue>): void {
  // A loop over a constant list rather than a filter: no array and closure made for every event.
  let missing: string[] | undefined;
  for (const name of requiredAttributes) {
    const value = attributes.get(name);
    if (typeof value !== 'string' || value === '') (missing ??= []).push(name);
  }
  if (missing !== undefined) {
    throw new HttpError(400, 'missing_attributes', `missing required CloudEvent attributes: ${missing.join(', ')}`, {
      details: missing,
    });
  }
  if (attributes.get('specversion') !== '1.0') {
    throw new HttpError(
      400,
      'unsupported_specversion',
      `specversion must be "1.0", got ${JSON.stringify(attributes.get('specversion'))}`,
    );
  }
  const problems: string[] = [];
  for (const name of optionalStrings) {
    const value = attributes.get(name);
    if (value !== undefined && typeof value !== 'string')
      problems.push(`${name} must be a string, got ${JSON.stringify(value)}`);
  }
  const time = attributes.get('time');
  if (typeof time === 'string' && (!rfc3339.test(time) || Number.isNaN(Date.parse(time)))) {
    problems.push(`time must be an RFC 3339 timestamp, got ${JSON.stringify(time)}`);
  }
  const contentType = attributes.get('datacontenttype');
  if (typeof contentType === 'string' && !headerSafe.test(contentType))
    problems.push(`datacontenttype must be a media type in ASCII, got ${JSON.stringify(contentType)}`);
  for (const [name, value] of attributes) {
    if (name === 'data') problems.push('"data" is not an attribute name: in binary mode the body is the data');
    else if (!contextAttributes.has(name) && !extensionName.test(name))
      problems.push(`extension attribute name "${name}" must be 1-20 lowercase letters or digits`);
    // A lone surrogate is not a Unicode character: it could be neither percent-encoded nor sent as UTF-8.
    if (typeof value === 'string' && !(value as string & { isWellFormed(): boolean }).isWellFormed())
      problems.push(`attribute "${name}" is not well-formed Unicode`);
  }
  if (problems.length > 0) throw new HttpError(400, 'invalid_event', problems.join('; '), { details: problems });
}

/** The SDK's own schema (URI formats, date-time) on an event (sdk-event.ts); its failures are a 400. */
function sdkValidate(event: CloudEvent<unknown>): void {
  try {
    validateAsSdk(event);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof TypeError) {
      const details =
        err instanceof ValidationError && Array.isArray(err.errors)
          ? err.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))
          : [];
      throw new HttpError(400, 'invalid_event', `invalid CloudEvent: ${err.message}`, { details });
    }
    throw err;
  }
}

/**
 * `attributesFromHeaders` from the request's raw header list, with the check Node's header object hides: Node
 * joins a repeated header into "a, b", which would slip through as one odd attribute value, so an attribute sent
 * in more than one header (in any mix of ce-/ce_ and case) is refused. One pass over the list does both.
 */
function attributesFromRawHeaders(
  rawHeaders: readonly string[],
  legacy: boolean,
): { attributes: Map<string, AttributeValue>; underscored: boolean } {
  const attributes = new Map<string, AttributeValue>();
  let ignored: Set<string> | undefined;
  let underscored = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const rawName = rawHeaders[i] as string;
    if (rawName.length < 3 || (rawName.charCodeAt(0) | 32) !== 99 || (rawName.charCodeAt(1) | 32) !== 101) continue; // "ce"
    const separator = rawName.charCodeAt(2);
    if (separator !== 45 && separator !== 95) continue; // "-" or "_"
    const name = rawName.slice(3).toLowerCase();
    // "ce-" alone (no name) is not checked for repeats: its empty attribute name is refused by checkAttributes
    // whatever its value.
    if (name.length > 0 && (attributes.has(name) || ignored?.has(name)))
      throw new HttpError(400, 'invalid_event', `CloudEvent attribute "${name}" was sent in more than one header`);
    const value = rawHeaders[i + 1] as string;
    if (separator === 95 && !legacy) (ignored ??= new Set()).add(name);
    else if (separator === 95) {
      underscored = true;
      attributes.set(name, value);
    } else attributes.set(name, decodeHeaderValue(name, value));
  }
  return { attributes, underscored };
}

/**
 * Every check on the CloudEvent's headers happens here, in the parse step. `rawHeaders` (the request's, as
 * sent): the attributes are read from them and a repeated one is refused first; without them (an outbound
 * answer) the header object is read and repeats are not checked.
 */
function readWire(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: ParseOptions,
  rawHeaders: readonly string[] | undefined,
): WireEvent {
  // First, as before any other check: a repeated attribute header is refused whatever else is wrong.
  const fromRaw = rawHeaders !== undefined ? attributesFromRawHeaders(rawHeaders, options.legacy) : undefined;
  const rawType = headerValue(headers['content-type']);
  const contentType = parseContentType(rawType);
  if (contentType?.batch)
    throw new HttpError(
      415,
      'unsupported_media_type',
      'batched CloudEvents are not accepted: send one event per request',
    );

  let attributes: Map<string, AttributeValue>;
  let data: EventData | undefined;
  if (contentType?.structured) {
    ({ attributes, data } = fromStructured(body));
  } else {
    const fromHeaders = fromRaw ?? attributesFromHeaders(headers, options.legacy);
    attributes = fromHeaders.attributes;
    const legacyForm = options.legacy && (fromHeaders.underscored || !attributes.has('specversion'));
    if (legacyForm || options.requireJson) {
      if (body.length === 0)
        throw new HttpError(400, 'empty_body', 'the request body is empty: send the event data as JSON');
      if (!contentType?.json) {
        const why = legacyForm
          ? 'the ce_ header form carries JSON only; send other data as a CloudEvent (ce-specversion: 1.0, or structured mode)'
          : 'this endpoint takes JSON only';
        throw new HttpError(
          415,
          'unsupported_media_type',
          `expected a JSON body (Content-Type: application/json), got ${JSON.stringify(contentType?.mime ?? 'none')}: ${why}`,
        );
      }
    }
    // In binary mode the Content-Type header is datacontenttype; a ce-datacontenttype header is not.
    attributes.delete('datacontenttype');
    if (rawType !== undefined) attributes.set('datacontenttype', rawType);
    data = body.length > 0 ? dataFromBody(body, contentType, options.jsonValidated) : undefined;
  }
  if (options.requireJson && data !== undefined && data.kind !== 'json') {
    throw new HttpError(415, 'unsupported_media_type', 'this endpoint takes JSON data only');
  }
  if (options.legacy) {
    if (!attributes.has('specversion')) attributes.set('specversion', '1.0');
    if (!attributes.has('id')) attributes.set('id', options.newId());
    if (!attributes.has('time')) attributes.set('time', isoString(options.now().getTime()));
  }
  checkAttributes(attributes);
  return new WireEvent(attributes, data);
}

/** The event as it came: attributes as given (filled in only where missing, legacy mode), data as raw bytes. */
export function readWireEvent(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: ParseOptions,
  rawHeaders?: readonly string[],
): WireEvent {
  const event = readWire(headers, body, options, rawHeaders);
  // The SDK's schema on the context attributes only: extensions may be names its CloudEvent cannot hold.
  // Built as sdk-event.ts builds a function's event (the SDK constructor's object, without its copy and deletes).
  const core = new Map<string, AttributeValue>();
  for (const name of contextAttributes) {
    const value = event.attributes.get(name);
    if (value !== undefined) core.set(name, value);
  }
  sdkValidate(cloudEventOf(core, undefined));
  return event;
}

// Extension names the SDK's CloudEvent cannot hold: they would replace its methods (`validate`, `emit`),
// its `constructor`, or are old attributes it treats specially. Legal on the wire, so the handler carries
// them; a function cannot be given them.
const takenBySdk = new Set(
  [
    ...Object.getOwnPropertyNames(CloudEvent.prototype),
    ...Object.getOwnPropertyNames(Object.prototype),
    'schemaurl',
    'datacontentencoding',
  ].filter((name) => extensionName.test(name)),
);

/** The data a function sees: JSON parsed, text decoded in its charset, anything else as a Buffer. */
function dataValue(event: WireEvent): unknown {
  const data = event.data as EventData;
  if (data.kind === 'json') return data.value !== undefined ? data.value : JSON.parse(data.bytes.toString('utf8'));
  if (data.kind === 'text') return decodeText(data.bytes, parseContentType(event.datacontenttype)?.charset);
  return data.bytes;
}

/** The wire form as the SDK's CloudEvent (what a function is given), not validated again. */
export function toCloudEvent(event: WireEvent): ParsedEvent {
  for (const name of event.attributes.keys()) {
    if (takenBySdk.has(name)) {
      throw new HttpError(
        422,
        'invalid_event',
        `extension attribute "${name}" cannot be given to a function: the name is taken by the CloudEvents SDK's CloudEvent object`,
      );
    }
  }
  return cloudEventOf(event.attributes, event.data === undefined ? undefined : dataValue(event));
}

/** Both forms of one request: the SDK event a function is given (validated once) and the wire form it came in. */
export function parseEvent(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: ParseOptions,
  rawHeaders?: readonly string[],
): { event: ParsedEvent; wire: WireEvent } {
  const wire = readWire(headers, body, options, rawHeaders);
  const event = toCloudEvent(wire);
  sdkValidate(event);
  return { event, wire };
}

export function parseCloudEvent(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: ParseOptions,
  rawHeaders?: readonly string[],
): ParsedEvent {
  return parseEvent(headers, body, options, rawHeaders).event;
}
