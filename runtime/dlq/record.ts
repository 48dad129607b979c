// One dead letter as stored: the event exactly as it arrived (structured JSON form), what Knative says went
// wrong (the knativeerror* extensions, with the response body decoded), and when it was received.
// The same shape is one line of the file store and one item of the admin API.
import { CloudEvent } from 'cloudevents';
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
  /** The event in structured JSON form (binary data as data_base64). */
  readonly event: Record<string, unknown>;
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

const errorExtensions = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'] as const;

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Knative base64-encodes the failed response's body; anything that is not base64 is kept as sent. */
export function decodeErrorData(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const compact = value.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return value;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** The event as JSON, attributes untouched (the SDK's toJSON would rewrite `time`). */
export function eventToJson(event: CloudEvent<unknown>): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event)) if (value !== undefined) json[name] = value;
  if (json.data_base64 !== undefined) delete json.data;
  return json;
}

/** A dead letter from the event's attributes in JSON form (a parsed CloudEvent, or what a raw capture read). */
export function deadLetterFrom(event: Record<string, unknown>, id: string, receivedAt: Date, invalid?: string): DeadLetter {
  const letter: DeadLetter = {
    kind: 'dead-letter',
    id,
    receivedAt: receivedAt.toISOString(),
    error: {
      destination: text(event.knativeerrordest),
      code: text(event.knativeerrorcode),
      data: decodeErrorData(text(event.knativeerrordata)),
    },
    event,
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

/** The stored event as a CloudEvent again, knativeerror* extensions included (for a dead-letter topic). */
export function storedEvent(letter: DeadLetter): CloudEvent<unknown> {
  return new CloudEvent<unknown>({ ...letter.event }, false);
}

/**
 * The event to send again: as it was before it failed (same id), without the dead-letter extensions. A dead
 * letter kept raw because it was not a valid CloudEvent cannot be sent as one: 422, with the reason.
 */
export function eventForReplay(letter: DeadLetter, extensions: Readonly<Record<string, string>> = {}): CloudEvent<unknown> {
  if (letter.invalid !== undefined) {
    throw new HttpError(422, 'invalid_event', `dead letter ${letter.id} was stored raw because it is not a valid CloudEvent (${letter.invalid}); it cannot be replayed as it is`);
  }
  const attributes: Record<string, unknown> = { ...letter.event };
  for (const name of errorExtensions) delete attributes[name];
  return new CloudEvent<unknown>({ ...attributes, ...extensions }, false);
}
