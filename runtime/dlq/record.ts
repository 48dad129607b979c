// One dead letter as stored: the event exactly as it arrived (structured JSON form), what Knative says went
// wrong (the knativeerror* extensions, with the response body decoded), and when it was received.
// The same shape is one line of the file store and one item of the admin API.
import { CloudEvent } from 'cloudevents';

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
}

/** Written after a successful replay; a dead letter with one is not replayed again unless forced. */
export interface ReplayMarker {
  readonly kind: 'replayed';
  readonly id: string;
  readonly replayedAt: string;
  readonly target: string;
  readonly status: number;
}

export type StoreLine = DeadLetter | ReplayMarker;

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

export function deadLetterFrom(event: CloudEvent<unknown>, id: string, receivedAt: Date): DeadLetter {
  return {
    kind: 'dead-letter',
    id,
    receivedAt: receivedAt.toISOString(),
    error: {
      destination: text(event.knativeerrordest),
      code: text(event.knativeerrorcode),
      data: decodeErrorData(text(event.knativeerrordata)),
    },
    event: eventToJson(event),
  };
}

/** The stored event as a CloudEvent again, knativeerror* extensions included (for a dead-letter topic). */
export function storedEvent(letter: DeadLetter): CloudEvent<unknown> {
  return new CloudEvent<unknown>({ ...letter.event }, false);
}

/** The event to send again: as it was before it failed (same id), without the dead-letter extensions. */
export function eventForReplay(letter: DeadLetter): CloudEvent<unknown> {
  const attributes: Record<string, unknown> = { ...letter.event };
  for (const name of errorExtensions) delete attributes[name];
  return new CloudEvent<unknown>(attributes, false);
}
