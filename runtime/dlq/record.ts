// One dead letter as stored: the event exactly as it arrived (its attributes as given, its data as the bytes
// that came: `data`), what Knative says went wrong (the knativeerror* extensions, with the response body
// decoded), and when it was received. The same shape is one line of the file store, the `letter` column of
// the PostgreSQL store and the admin API's `deadLetter` (which also shows the data in `event`: eventJson).
//
// The data is kept as it came so a replay sends the same bytes: JSON data as its own text (a number too big
// for a double, duplicate keys and key order survive, as they would not if it were parsed and written
// again), UTF-8 text as text, anything else as base64, each with its kind. Records written before `data`
// existed hold the data in `event` (JSON parsed, text, or data_base64); they are read and replayed as
// before (re-serialised).
import { isUtf8 } from 'node:buffer';
import { CloudEvent } from 'cloudevents';
import { decodeText, isUtf8Charset, parseContentType } from '../events/content-type.js';
import {
  asAttributeValue,
  describeValue,
  WireEvent,
  wireFromCloudEvent,
  type AttributeValue,
  type DataKind,
  type EventData,
} from '../events/wire-event.js';
import { HttpError } from '../http/errors.js';

export interface DeadLetterError {
  /** knativeerrordest: the URL whose delivery failed. */
  readonly destination: string | undefined;
  /** knativeerrorcode: the HTTP status it answered last (a string, as Knative sends it). */
  readonly code: string | undefined;
  /** knativeerrordata decoded from base64 (Knative cuts the body to 1024 characters). */
  readonly data: string | undefined;
}

export interface DeadLetter {
  readonly kind: 'dead-letter';
  /** The store's own id: the same event may be dead-lettered by more than one trigger. */
  readonly id: string;
  readonly receivedAt: string;
  readonly error: DeadLetterError;
  /**
   * The event's attributes in structured JSON form, as given. In records written before `data` existed, and
   * in raw captures (`invalid`), also its data: `data` (JSON parsed, or text) or `data_base64`.
   */
  readonly event: Record<string, unknown>;
  /** The event's data exactly as it came (see the top of this file); absent when it had none, or see `event`. */
  readonly data?: StoredData;
  /**
   * Set when the request was not a valid CloudEvent (broken JSON data, another charset, unusual extension
   * names, ...): why, and `event` then holds the attributes that could be read and the raw body as data_base64.
   */
  readonly invalid?: string;
}

/** Written after a successful replay; a dead letter with one is not replayed again unless forced. */
export interface ReplayMarker {
  readonly kind: 'replayed';
  readonly id: string;
  readonly replayedAt: string;
  readonly target: string;
  readonly status: number;
  /** The `replayid` extension the replayed event carried (dlq/replay.ts): links the original to its replay. */
  readonly replayId?: string;
  /** destination, broker, or url (an allow-listed DLQ_REPLAY_TARGETS entry). */
  readonly to?: string;
  /** The bulk replay job that sent it, if any. */
  readonly job?: string;
}

/** Written by a purge (file store): the dead letter is no longer listed or shown. */
export interface PurgeMarker {
  readonly kind: 'purged';
  readonly id: string;
  readonly purgedAt: string;
}

export type StoreLine = DeadLetter | ReplayMarker | PurgeMarker;

/**
 * Data as the bytes that came, with what they are (wire-event.ts: json, text or binary): `text` when the
 * bytes are UTF-8 and JSON or text in a UTF-8 charset (readable in the file and the database), else `base64`.
 */
export type StoredData =
  { readonly kind: DataKind; readonly text: string } | { readonly kind: DataKind; readonly base64: string };

export function storedData(data: EventData, contentType: string | undefined): StoredData {
  const readable =
    isUtf8(data.bytes) &&
    (data.kind === 'json' || (data.kind === 'text' && isUtf8Charset(parseContentType(contentType)?.charset)));
  return readable
    ? { kind: data.kind, text: data.bytes.toString('utf8') }
    : { kind: data.kind, base64: data.bytes.toString('base64') };
}

const dataKinds: ReadonlySet<unknown> = new Set(['json', 'text', 'binary']);

/** The stored data as bytes again; a record edited into something else cannot be sent (422). */
function dataBytes(letter: DeadLetter): EventData | undefined {
  const data = letter.data as { kind?: unknown; text?: unknown; base64?: unknown } | undefined;
  if (data === undefined) return undefined;
  if (!dataKinds.has(data.kind) || (typeof data.text !== 'string' && typeof data.base64 !== 'string')) {
    throw new HttpError(422, 'invalid_event', `dead letter ${letter.id}: its stored data is not {kind, text|base64}`);
  }
  const bytes =
    typeof data.text === 'string' ? Buffer.from(data.text, 'utf8') : Buffer.from(data.base64 as string, 'base64');
  return { kind: data.kind as DataKind, bytes };
}

/** A record written before `data` existed (its data, if any, is in `event`). */
const olderFormat = (letter: DeadLetter): boolean =>
  letter.data === undefined && (letter.event.data !== undefined || letter.event.data_base64 !== undefined);

/**
 * The event in structured JSON form, for people and the admin API: JSON data parsed, text as a string, bytes
 * as data_base64 (what the API has always shown). The exact bytes are the letter's `data`.
 */
export function eventJson(letter: DeadLetter): Record<string, unknown> {
  if (letter.data === undefined) return letter.event;
  const json: Record<string, unknown> = { ...letter.event };
  let data: EventData | undefined;
  try {
    data = dataBytes(letter);
  } catch {
    return json;
  }
  if (data === undefined) return json;
  if (data.kind === 'json') {
    try {
      json.data = JSON.parse(data.bytes.toString('utf8'));
      return json;
    } catch {
      // shown as bytes below
    }
  }
  if (data.kind === 'text') {
    const text = decodeText(
      data.bytes,
      parseContentType(typeof json.datacontenttype === 'string' ? json.datacontenttype : undefined)?.charset,
    );
    if (typeof text === 'string') {
      json.data = text;
      return json;
    }
  }
  json.data_base64 = data.bytes.toString('base64');
  return json;
}

const errorExtensions = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'] as const;

/**
 * An attribute as text, for the error fields and the stores' indexes. A raw capture's attributes may be any JSON:
 * an object or array is kept as its JSON (String() would make every one of them "[object Object]").
 */
export function attributeText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** Knative base64-encodes the failed response's body; anything that is not base64 is kept as sent. */
export function decodeErrorData(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const compact = value.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return value;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** A dead letter from the event's attributes in JSON form (a parsed CloudEvent, or what a raw capture read). */
export function deadLetterFrom(
  event: Record<string, unknown>,
  id: string,
  receivedAt: Date,
  invalid?: string,
  data?: StoredData,
): DeadLetter {
  const letter: DeadLetter = {
    kind: 'dead-letter',
    id,
    receivedAt: receivedAt.toISOString(),
    error: {
      destination: attributeText(event.knativeerrordest),
      code: attributeText(event.knativeerrorcode),
      data: decodeErrorData(attributeText(event.knativeerrordata)),
    },
    event,
    ...(data === undefined ? {} : { data }),
  };
  return invalid === undefined ? letter : { ...letter, invalid };
}

/**
 * What makes two deliveries the same dead letter: the event's source and id and the URL that failed. Knative
 * may deliver one dead letter twice (a lost 2xx); a stored one that has since been replayed does not count
 * (its event failed again after the replay: a new dead letter). Undefined when the event has no id or source.
 */
export function duplicateKey(letter: DeadLetter): string | undefined {
  const { id, source } = letter.event;
  if (typeof id !== 'string' || typeof source !== 'string') return undefined;
  return JSON.stringify([source, id, letter.error.destination ?? '']);
}

/**
 * The stored event in its wire form: attributes in the order they came, data as the bytes that came. An
 * older record goes through the SDK's CloudEvent as it always did (its JSON data is written again).
 */
function wireOf(letter: DeadLetter, omit: readonly string[], extensions: Readonly<Record<string, string>>): WireEvent {
  if (olderFormat(letter)) {
    const attributes: Record<string, unknown> = { ...letter.event };
    for (const name of omit) delete attributes[name];
    try {
      return wireFromCloudEvent(new CloudEvent<unknown>({ ...attributes, ...extensions }, false));
    } catch (err) {
      throw new HttpError(
        422,
        'invalid_event',
        `dead letter ${letter.id} cannot be sent as a CloudEvent: ${(err as Error).message}`,
      );
    }
  }
  const attributes = new Map<string, AttributeValue>();
  for (const [name, value] of Object.entries(letter.event)) {
    if (omit.includes(name) || value === undefined || value === null) continue;
    const typed = asAttributeValue(value);
    if (typed === undefined)
      throw new HttpError(
        422,
        'invalid_event',
        `dead letter ${letter.id} cannot be sent as a CloudEvent: attribute "${name}" is ${describeValue(value)}`,
      );
    attributes.set(name, typed);
  }
  for (const [name, value] of Object.entries(extensions)) attributes.set(name, value);
  return new WireEvent(attributes, dataBytes(letter));
}

/** The stored event as it came, knativeerror* extensions included (for a dead-letter topic). */
export function storedWire(letter: DeadLetter): WireEvent {
  return wireOf(letter, [], {});
}

/**
 * The event to send again: as it was before it failed (same id, the same data bytes), without the
 * dead-letter extensions. A dead letter kept raw because it was not a valid CloudEvent cannot be sent as
 * one: 422, with the reason.
 */
export function wireForReplay(letter: DeadLetter, extensions: Readonly<Record<string, string>> = {}): WireEvent {
  if (letter.invalid !== undefined) {
    throw new HttpError(
      422,
      'invalid_event',
      `dead letter ${letter.id} was stored raw because it is not a valid CloudEvent (${letter.invalid}); it cannot be replayed as it is`,
    );
  }
  return wireOf(letter, errorExtensions, extensions);
}

/** A wire event in structured JSON form for people (a replay's dry run): data shown as eventJson shows it. */
export function wireJson(event: WireEvent): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [name, value] of event.attributes) json[name] = value;
  if (event.data === undefined) return json;
  const view: DeadLetter = {
    kind: 'dead-letter',
    id: '',
    receivedAt: '',
    error: { destination: undefined, code: undefined, data: undefined },
    event: json,
    data: storedData(event.data, event.datacontenttype),
  };
  return eventJson(view);
}
