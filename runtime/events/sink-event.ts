// A function's result → the CloudEvents written to the KafkaSink. One event per result, or one per item
// when the function returns a list. Every outgoing id is derived from the incoming event (source, id,
// index), so a delivery Knative retries produces the very same records, and each carries the incoming id
// in `sourceeventid` so a record on the topic can be traced back to what caused it.
import { hash } from 'node:crypto';
import { CloudEvent, ValidationError } from 'cloudevents';
import { isReply } from '../function-api.js';
import { HttpError } from '../http/errors.js';
import { isoString } from './iso-time.js';
import { cloudEventOf, validateAsSdk } from './sdk-event.js';

export interface SinkEventOptions {
  /** SINK_EVENT_TYPE; when unset a plain result keeps the incoming event's type. */
  readonly type: string | undefined;
  /** SINK_EVENT_SOURCE; when unset, `/knative-events/<service>`. */
  readonly source: string;
  /** SINK_PARTITION_KEY: an attribute name (`subject`) or `data.<path>`. */
  readonly partitionKey: string | undefined;
  readonly now: () => Date;
}

/** Attributes copied from the incoming event so a trace continues across the topic. */
const tracingExtensions = ['traceparent', 'tracestate'] as const;

/**
 * A UUID-shaped id that depends only on the incoming event and the item's position (RFC 4122 layout,
 * version 5 bits, from SHA-256 rather than SHA-1: nobody has to recompute it, only to get the same one twice).
 */
export function derivedEventId(incoming: CloudEvent<unknown>, index: number): string {
  // One-shot: no Hash object per record.
  const bytes = hash('sha256', `${incoming.source}\n${incoming.id}\n${index}`, 'buffer').subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function lookupPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || Buffer.isBuffer(current))
      return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function keyOf(attributes: Record<string, unknown>, spec: string): string | undefined {
  const value = spec.startsWith('data.') ? lookupPath(attributes.data, spec.slice(5).split('.')) : attributes[spec];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** The partition key: the outgoing event's own, else SINK_PARTITION_KEY looked up on the outgoing event, then on the incoming one. */
function partitionKeyFor(
  outgoing: Record<string, unknown>,
  incoming: CloudEvent<unknown>,
  spec: string | undefined,
): string | undefined {
  if (typeof outgoing.partitionkey === 'string' && outgoing.partitionkey !== '') return outgoing.partitionkey;
  if (spec === undefined) return undefined;
  return keyOf(outgoing, spec) ?? keyOf({ ...incoming }, spec);
}

/** A result item the function made an event of itself (a CloudEvent or `reply(...)`), not plain data. */
const ownEvent = (item: unknown) => item instanceof CloudEvent || isReply(item);

function attributesOf(
  item: unknown,
  incoming: CloudEvent<unknown>,
  index: number,
  options: SinkEventOptions,
): Record<string, unknown> {
  if (ownEvent(item)) {
    // The function chose the event: its type, source and extensions stand. The SDK gives a CloudEvent a
    // random id when none was set, so only an id set through reply({ id }) is kept.
    const own: Record<string, unknown> = item instanceof CloudEvent ? { ...item } : { ...item };
    if (item instanceof CloudEvent || typeof own.id !== 'string' || own.id === '')
      own.id = derivedEventId(incoming, index);
    own.source ??= options.source;
    if (own.data_base64 !== undefined && own.data !== undefined) delete own.data_base64;
    if (own.data !== undefined && own.data === incoming.data) own.datacontenttype ??= incoming.datacontenttype;
    return own;
  }
  return {
    id: derivedEventId(incoming, index),
    type: options.type ?? incoming.type,
    source: options.source,
    subject: incoming.subject,
    data: item,
    // The incoming data passed on as it is keeps its content type: XML stays XML, text stays text.
    datacontenttype: item === incoming.data ? incoming.datacontenttype : undefined,
  };
}

/**
 * `new CloudEvent(attributes, true)` for the record of a plain result, whose attributes this file chose: the
 * known ones, an id and a time always, and string extensions with valid names (sourceeventid, traceparent,
 * tracestate, partitionkey). sdk-event.ts builds the same object without the SDK constructor's copying and
 * deleting, and validateAsSdk gives the SDK's verdict (its own error on a refusal) without re-running ajv on a
 * record like the ones already accepted: ≈ the cost the subscriber's parse saves (issue 19). Binary data is
 * left to the constructor (it adds data_base64).
 */
function plainRecord(attributes: Record<string, unknown>): CloudEvent<unknown> {
  const { data } = attributes;
  if (ArrayBuffer.isView(data)) return sdkEvent(attributes);
  const named = new Map<string, unknown>();
  for (const name in attributes) {
    const value = attributes[name];
    if (name !== 'data' && value !== undefined) named.set(name, value);
  }
  const event = cloudEventOf(named, data);
  validateAsSdk(event);
  return event;
}

/** `new CloudEvent(attributes, true)` on the attributes that have a value (the others deleted first). */
function sdkEvent(attributes: Record<string, unknown>): CloudEvent<unknown> {
  for (const [name, value] of Object.entries(attributes)) if (value === undefined) delete attributes[name];
  return new CloudEvent<unknown>(attributes, true);
}

/** Items to write: none for undefined/null, one per element for a list, else the one result. */
export function resultItems(result: unknown): unknown[] {
  if (result === undefined || result === null) return [];
  return Array.isArray(result) ? result.filter((item) => item !== undefined && item !== null) : [result];
}

/**
 * `traceContext`: the W3C trace headers of the request (Knative sends `traceparent` as a plain HTTP header);
 * the incoming event's own traceparent/tracestate extensions take precedence.
 */
export function buildSinkEvents(
  incoming: CloudEvent<unknown>,
  result: unknown,
  options: SinkEventOptions,
  traceContext: Partial<Record<(typeof tracingExtensions)[number], string>> = {},
): CloudEvent<unknown>[] {
  const time = isoString(options.now().getTime());
  return resultItems(result).map((item, index) => {
    const attributes = attributesOf(item, incoming, index, options);
    attributes.specversion = '1.0';
    attributes.time ??= time;
    attributes.sourceeventid ??= incoming.id;
    for (const name of tracingExtensions) attributes[name] ??= incoming[name] ?? traceContext[name];
    const key = partitionKeyFor(attributes, incoming, options.partitionKey);
    if (key !== undefined) attributes.partitionkey = key;
    if (attributes.data !== undefined && attributes.datacontenttype === undefined) {
      attributes.datacontenttype = Buffer.isBuffer(attributes.data) ? 'application/octet-stream' : 'application/json';
    }
    try {
      return ownEvent(item) ? sdkEvent(attributes) : plainRecord(attributes);
    } catch (err) {
      if (err instanceof ValidationError || err instanceof TypeError) {
        // The function produced it, so retrying the delivery will not fix it, but the bug is ours (the
        // deployment's), not the sender's: 500 keeps the event until the function is fixed or it dead-letters.
        throw new HttpError(
          500,
          'function_error',
          `the function returned an invalid event (item ${index}): ${err.message}`,
        );
      }
      throw err;
    }
  });
}
