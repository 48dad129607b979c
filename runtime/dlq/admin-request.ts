// How the admin API reads a request: query parameters (one value each, empty as absent), flags, ids from the
// path, the list's filter and a bulk action's selection, and the caller's label for the audit log; a bad value
// is a 400 that says what is expected. Also how a dead letter is summarised in a list, and how a store that
// cannot be read right now is answered (503, try again).
import { createHash } from 'node:crypto';
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { Caller } from './admin-state.js';
import type { LetterFilter, StoredLetter } from './store.js';

const defaultLimit = 50;
const maxLimit = 500;
const maxIds = 1000;

export function query(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.query[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one === '' ? undefined : one;
}

export function flag(ctx: RequestContext, name: string): boolean {
  const value = query(ctx, name);
  if (value !== undefined && value !== 'true' && value !== 'false')
    throw new HttpError(400, 'bad_request', `${name} must be true or false`);
  return value === 'true';
}

export function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'the id in the path is not valid percent-encoding');
  }
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return defaultLimit;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > maxLimit)
    throw new HttpError(400, 'bad_request', `limit must be a whole number from 1 to ${maxLimit}`);
  return n;
}

function time(ctx: RequestContext, name: string): string | undefined {
  const value = query(ctx, name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new HttpError(400, 'bad_request', `${name} must be a date and time in ISO 8601 (2026-12-01T10:00:00Z)`);
  return new Date(ms).toISOString();
}

export function filterOf(ctx: RequestContext): LetterFilter {
  const replayed = query(ctx, 'replayed');
  if (replayed !== undefined && replayed !== 'true' && replayed !== 'false')
    throw new HttpError(400, 'bad_request', 'replayed must be true or false');
  const filter: LetterFilter = {
    type: query(ctx, 'type'),
    source: query(ctx, 'source'),
    code: query(ctx, 'code'),
    destination: query(ctx, 'destination'),
    replayed: replayed === undefined ? undefined : replayed === 'true',
    receivedFrom: time(ctx, 'receivedFrom'),
    receivedTo: time(ctx, 'receivedTo'),
  };
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined));
}

function idsOf(ctx: RequestContext): string[] | undefined {
  const raw = query(ctx, 'ids');
  if (raw === undefined) return undefined;
  const ids = [
    ...new Set(
      raw
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
    ),
  ];
  if (ids.length === 0 || ids.length > maxIds)
    throw new HttpError(400, 'bad_request', `ids must list 1 to ${maxIds} dead-letter ids, comma-separated`);
  return ids;
}

/** Which dead letters a bulk action is for. */
export type Selection = { ids: string[] } | { filter: LetterFilter };

/** A filter, ids, or all=true: a bulk action never runs over everything by accident. */
export function selectionOf(ctx: RequestContext, action: string): Selection {
  const ids = idsOf(ctx);
  const filter = filterOf(ctx);
  if (ids) {
    if (Object.keys(filter).length > 0)
      throw new HttpError(400, 'bad_request', `${action}: give ids or filters, not both`);
    return { ids };
  }
  if (Object.keys(filter).length === 0 && query(ctx, 'all') !== 'true') {
    throw new HttpError(
      400,
      'bad_request',
      `${action} needs ids, a filter (type, source, code, destination, replayed, receivedFrom, receivedTo) or all=true`,
    );
  }
  return { filter };
}

export function summary({ letter, replayed }: StoredLetter) {
  return {
    id: letter.id,
    receivedAt: letter.receivedAt,
    eventId: letter.event.id ?? null,
    type: letter.event.type ?? null,
    source: letter.event.source ?? null,
    error: letter.error,
    replayedAt: replayed?.replayedAt ?? null,
    ...(letter.invalid === undefined ? {} : { invalid: letter.invalid }),
  };
}

/** A store that is down (a database restarting) is "try again", never a 500 with its internals. */
export async function reading<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(503, 'store_failed', 'the dead-letter store could not be read; try again', { cause: err });
  }
}

/** The caller's own label for the audit log: printable, at most 100 characters. */
export function callerOf(ctx: RequestContext, token: string): Caller {
  const raw = ctx.get('x-dlq-caller');
  let label = raw;
  try {
    label = decodeURIComponent(raw);
  } catch {
    // sent as it is
  }
  label = [...label]
    .map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c))
    .join('')
    .trim()
    .slice(0, 100);
  return {
    label: label || 'unnamed',
    token: `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`,
  };
}
