// The SDK CloudEvent a function is given, built from attributes parse.ts has already checked, and validated by
// the SDK's rules without paying for them twice on every event. What this saves per event (issue 19's profile):
// the SDK constructor copies its input and deletes each known attribute from the copy (a dictionary-mode
// object), walks the rest with Object.entries and a regular expression, and its validate() runs the compiled
// ajv schema and another regular expression over every key; parse.ts has checked most of that already.
// Acceptance is exactly the SDK's: what the cheap check below cannot vouch for goes through the SDK's own
// validate(), whose error is the one the caller gets.
import { CloudEvent } from 'cloudevents';

/**
 * `new CloudEvent({ ...attributes, data }, false)` (data left out when undefined). Events with an id, a time and
 * data that is not binary are built here; the others by the SDK's constructor itself. Same prototype, same own
 * properties in the same order (the constructor assigns the known attributes first, undefined ones included,
 * then the extensions in their order), frozen. `attributes` must not hold `data`, `data_base64`, `schemaurl`
 * or `datacontentencoding` (parse.ts refuses them).
 */
export function cloudEventOf(attributes: ReadonlyMap<string, unknown>, data: unknown): CloudEvent<unknown> {
  const id = attributes.get('id');
  const time = attributes.get('time');
  if (!id || !time || ArrayBuffer.isView(data)) {
    const record = Object.fromEntries(attributes);
    if (data !== undefined) record.data = data;
    return new CloudEvent<unknown>(record, false);
  }
  const event = Object.create(CloudEvent.prototype) as Record<string, unknown>;
  event.id = id;
  event.time = time;
  event.type = attributes.get('type');
  event.source = attributes.get('source');
  event.specversion = attributes.get('specversion') || '1.0';
  event.datacontenttype = attributes.get('datacontenttype');
  event.subject = attributes.get('subject');
  event.datacontentencoding = undefined;
  event.dataschema = attributes.get('dataschema');
  event.data_base64 = undefined;
  event.schemaurl = undefined;
  event.data = data;
  for (const [name, value] of attributes) if (!sdkAttributes.has(name)) event[name] = value;
  return Object.freeze(event) as unknown as CloudEvent<unknown>;
}

const sdkAttributes = new Set([
  'id',
  'time',
  'type',
  'source',
  'specversion',
  'datacontenttype',
  'subject',
  'datacontentencoding',
  'dataschema',
  'data_base64',
  'schemaurl',
  'data',
]);

/**
 * Values of `source` and `dataschema` the SDK's schema accepted in an earlier event: the format checks (URI
 * reference, URI) depend on the string alone. Bounded, as a caller chooses these strings; past the bound a new
 * value is simply checked by the SDK each time.
 */
const maxRemembered = 256;
const acceptedSources = new Set<string>();
const acceptedSchemas = new Set<string>();

const daysIn = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits = (text: string, at: number, count: number) => {
  let value = 0;
  for (let i = at; i < at + count; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
};

// RFC 3339 as parse.ts requires it: the fixed positions plainDateTime reads, and a form ajv-formats' own
// pattern for date-time takes.
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * True when ajv-formats' `date-time` (the SDK's schema) accepts the time: RFC 3339 with a real calendar day,
 * hour ≤ 23, minute and second ≤ 59. A leap second (23:59:60) is left to the SDK.
 */
function plainDateTime(time: string): boolean {
  if (!rfc3339.test(time)) return false;
  const year = digits(time, 0, 4);
  const month = digits(time, 5, 2);
  const day = digits(time, 8, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const lastDay = month === 2 && leap ? 29 : (daysIn[month] ?? 0);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= lastDay &&
    digits(time, 11, 2) <= 23 &&
    digits(time, 14, 2) <= 59 &&
    digits(time, 17, 2) <= 59
  );
}

/** ajv's check of the schema's `data` type list (object, string, number, array, boolean, null). */
const dataTypeAccepted = (data: unknown) =>
  data === undefined || (typeof data === 'number' ? Number.isFinite(data) : typeof data !== 'function');

const nonEmpty = (value: unknown) => typeof value === 'string' && value !== '';

/**
 * True when the SDK's validate() would accept the event, for an event whose extension names parse.ts has
 * checked (1-20 lowercase letters or digits: the SDK's own name check then passes). False means "not vouched
 * for": the SDK decides.
 */
function surelyValid(event: CloudEvent<unknown>): boolean {
  const { source, dataschema, subject, datacontenttype, time } = event;
  return (
    nonEmpty(event.id) &&
    nonEmpty(event.type) &&
    event.specversion === '1.0' &&
    acceptedSources.has(source) &&
    (dataschema === undefined || acceptedSchemas.has(dataschema)) &&
    (subject === undefined || nonEmpty(subject)) &&
    (datacontenttype === undefined || nonEmpty(datacontenttype)) &&
    typeof time === 'string' &&
    plainDateTime(time) &&
    dataTypeAccepted(event.data)
  );
}

/** The SDK's validate() on the event, skipped when its outcome is known to be a pass. Throws what it throws. */
export function validateAsSdk(event: CloudEvent<unknown>): void {
  if (surelyValid(event)) return;
  // false: not a 1.0 event, which the SDK does not check (parse.ts refuses it): nothing learnt.
  if (!event.validate()) return;
  // It passed: its source and dataschema are valid strings for every later event that has them.
  if (acceptedSources.size < maxRemembered) acceptedSources.add(event.source);
  if (event.dataschema !== undefined && acceptedSchemas.size < maxRemembered) acceptedSchemas.add(event.dataschema);
}
