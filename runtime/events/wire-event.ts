// A CloudEvent as it travels: its attributes exactly as given (in a Map, so no attribute name can reach an
// object's prototype) and its data as raw bytes with what they are. The handler forwards this as it came,
// and every role writes its outgoing events through the two serialisers here, never the SDK's: the SDK
// re-serialises data (big numbers, duplicate keys, invalid UTF-8 all change), rewrites `time` to
// milliseconds in UTC, and does not percent-encode header values.
import { isUtf8 } from 'node:buffer';
import type { CloudEvent } from 'cloudevents';
import { HttpError } from '../http/errors.js';
import { encodeText, isUtf8Charset, parseContentType } from './content-type.js';
import { percentEncode } from './percent.js';

/** The CloudEvents type system as it appears on the wire: String (and the string-encoded types), Integer, Boolean. */
export type AttributeValue = string | number | boolean;

/**
 * `json`: the bytes are JSON text (embedded as it is in structured mode); `text`: characters (embedded as
 * `data` when they are UTF-8); `binary`: anything else (`data_base64`).
 */
export type DataKind = 'json' | 'text' | 'binary';

export interface EventData {
  readonly bytes: Buffer;
  readonly kind: DataKind;
  /** The parsed value of JSON data, when it was parsed (checking that it is JSON parses it anyway). */
  readonly value?: unknown;
}

export class WireEvent {
  constructor(
    readonly attributes: ReadonlyMap<string, AttributeValue>,
    readonly data: EventData | undefined,
  ) {}

  get id(): string {
    return this.attributes.get('id') as string;
  }

  get type(): string {
    return this.attributes.get('type') as string;
  }

  get source(): string {
    return this.attributes.get('source') as string;
  }

  get datacontenttype(): string | undefined {
    return this.attributes.get('datacontenttype') as string | undefined;
  }
}

export interface HttpMessage {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const empty = Buffer.alloc(0);

/** Binary content mode: attributes as percent-encoded `ce-` headers, the data bytes as the body. */
export function binaryMessage(event: WireEvent): HttpMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of event.attributes) {
    if (name !== 'datacontenttype') headers[`ce-${name}`] = percentEncode(String(value));
  }
  // JSON format events may leave datacontenttype out, meaning JSON; a binary-mode body has to say it.
  const contentType = event.datacontenttype ?? (event.data?.kind === 'json' ? 'application/json' : undefined);
  if (contentType !== undefined) headers['content-type'] = contentType;
  return { headers, body: event.data?.bytes ?? empty };
}

export const structuredContentType = 'application/cloudevents+json; charset=utf-8';

/** An HTTP message whose body is pieces to be written in order (OutgoingMessage.body is their concatenation). */
export interface OutgoingMessage {
  readonly headers: Record<string, string>;
  readonly body: readonly Buffer[];
}

const closingBrace = Buffer.from('}');

// What JSON.stringify leaves as it is in a string: anything but `"`, `\`, U+0000-U+001F and surrogates (a lone
// one is escaped; a pair is not, but is left to JSON.stringify here too).
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const needsNoEscape = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * JSON.stringify(value) for an attribute's name or value: a string with nothing to escape is quoted as it is,
 * without a trip into V8's JSON serialiser for each of an event's names and values (≈ 12 a structured event).
 */
const jsonText = (value: AttributeValue): string =>
  typeof value === 'string' && needsNoEscape.test(value) ? `"${value}"` : JSON.stringify(value);

/**
 * Structured content mode: JSON data embedded as its own text; UTF-8 text as `data`; anything else, and
 * JSON or text that is not valid UTF-8, as `data_base64`, so the bytes a receiver decodes are the ones sent.
 * JSON data stays its own buffer between the envelope's two ends: the sender writes the pieces as they are.
 */
export function structuredPieces(event: WireEvent): OutgoingMessage {
  const headers = { 'content-type': structuredContentType };
  let head = '{';
  for (const [name, value] of event.attributes)
    head += `${head.length > 1 ? ',' : ''}${jsonText(name)}:${jsonText(value)}`;
  const data = event.data;
  if (data === undefined) return { headers, body: [Buffer.from(`${head}}`)] };
  const separator = head.length > 1 ? ',' : '';
  if (data.kind === 'json' && isUtf8(data.bytes)) {
    return { headers, body: [Buffer.from(`${head}${separator}"data":`), data.bytes, closingBrace] };
  }
  if (data.kind === 'text' && isUtf8Charset(parseContentType(event.datacontenttype)?.charset) && isUtf8(data.bytes)) {
    return {
      headers,
      body: [Buffer.from(`${head}${separator}"data":${JSON.stringify(data.bytes.toString('utf8'))}}`)],
    };
  }
  return { headers, body: [Buffer.from(`${head}${separator}"data_base64":"${data.bytes.toString('base64')}"}`)] };
}

/** Structured content mode as one buffer (structuredPieces, joined). */
export function structuredMessage(event: WireEvent): HttpMessage {
  const { headers, body } = structuredPieces(event);
  return { headers, body: body.length === 1 ? (body[0] as Buffer) : Buffer.concat(body) };
}

const int32 = (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647;

/** The value as a CloudEvents attribute, or undefined when the type system has no place for it. */
export function asAttributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return int32(value) ? value : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return undefined;
}

/** What a value of JS type is called in an error message. */
export const describeValue = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'number'
        ? `the number ${value}`
        : `a value of type ${typeof value}`;

function jsonData(value: unknown): EventData | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new HttpError(500, 'function_error', `the event data cannot be written as JSON: ${(err as Error).message}`);
  }
  return text === undefined ? undefined : { bytes: Buffer.from(text), kind: 'json', value };
}

/** The data of an SDK event (what a function returned, a stored dead letter) as bytes in its content type. */
function dataOf(event: CloudEvent<unknown>): EventData | undefined {
  const data = event.data;
  if (data === undefined) return undefined;
  const type = parseContentType(event.datacontenttype);
  if (data instanceof Uint8Array)
    return { bytes: Buffer.isBuffer(data) ? data : Buffer.from(data), kind: type?.text ? 'text' : 'binary' };
  if (typeof data === 'string' && type !== undefined && !type.json)
    return { bytes: encodeText(data, type.charset), kind: 'text' };
  return jsonData(data);
}

/**
 * An SDK CloudEvent → the wire form. `origin`: the event a function was given and the wire form it came in;
 * when the outgoing event carries that very data in the same content type, the incoming bytes go out as
 * they came (an echo is byte for byte, whatever the data).
 */
export function wireFromCloudEvent(
  event: CloudEvent<unknown>,
  origin?: { event: CloudEvent<unknown>; wire: WireEvent },
): WireEvent {
  const attributes = new Map<string, AttributeValue>();
  for (const name of Object.keys(event)) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = (event as unknown as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    const typed = asAttributeValue(value);
    if (typed === undefined) {
      throw new HttpError(
        500,
        'function_error',
        `attribute "${name}" must be a string, a 32-bit integer or a boolean, got ${describeValue(value)}`,
      );
    }
    attributes.set(name, typed);
  }
  const passThrough =
    origin !== undefined &&
    origin.wire.data !== undefined &&
    event.data === origin.event.data &&
    event.datacontenttype === origin.wire.datacontenttype;
  return new WireEvent(attributes, passThrough ? origin.wire.data : dataOf(event));
}
