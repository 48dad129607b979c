// The dead-letter admin API, behind the bearer token in DLQ_ADMIN_TOKEN:
//   GET  /dead-letters                     newest first; ?type= &source= &code= &destination= &replayed=true|false &limit= &cursor=
//   GET  /dead-letters/<id>                one dead letter, with its replay marker
//   POST /dead-letters/<id>/replay         send it again to BROKER_URL (?force=true to send a replayed one again)
//   POST /dead-letters/replay              every not-yet-replayed match of ?type= &source= &code= &destination= (or ?all=true)
// Every answer is built from the store's query interface (store.ts): a page at a time, never the whole store.
import type Koa from 'koa';
import { HttpError } from '../http/errors.js';
import type { Route } from '../roles/role.js';
import { bearerTokenMatches } from '../http/bearer.js';
import type { ReplayOutcome, Replayer } from './replay.js';
import type { DeadLetterQueries, DeadLetterStore, LetterFilter, PageRequest, StoredLetter } from './store.js';

export interface AdminOptions {
  readonly token: string;
  readonly store: DeadLetterStore;
  /** Undefined when BROKER_URL is not set: replay is off. */
  readonly replayer: Replayer | undefined;
}

const defaultLimit = 50;
const maxLimit = 500;
/** Batch replay reads its matches this many at a time. */
const batchPage = 100;

function query(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one === '' ? undefined : one;
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'the dead-letter id in the path is not valid percent-encoding');
  }
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return defaultLimit;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > maxLimit) throw new HttpError(400, 'bad_request', `limit must be a whole number from 1 to ${maxLimit}`);
  return n;
}

function filterOf(ctx: Koa.Context, withReplayed: boolean): LetterFilter {
  const replayed = withReplayed ? query(ctx, 'replayed') : undefined;
  if (replayed !== undefined && replayed !== 'true' && replayed !== 'false') throw new HttpError(400, 'bad_request', 'replayed must be true or false');
  return {
    type: query(ctx, 'type'),
    source: query(ctx, 'source'),
    code: query(ctx, 'code'),
    destination: query(ctx, 'destination'),
    replayed: replayed === undefined ? undefined : replayed === 'true',
  };
}

function summary({ letter, replayed }: StoredLetter) {
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
async function reading<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(503, 'store_failed', 'the dead-letter store could not be read; try again', { cause: err });
  }
}

export function adminRoutes(options: AdminOptions): Route[] {
  const { token, store, replayer } = options;

  function queriesFor(ctx: Koa.Context): DeadLetterQueries {
    ctx.set('WWW-Authenticate', 'Bearer realm="dead-letters"');
    if (!bearerTokenMatches(ctx.get('authorization') || undefined, token)) {
      throw new HttpError(401, 'unauthorized', 'the dead-letter admin API needs "Authorization: Bearer <DLQ_ADMIN_TOKEN>"');
    }
    ctx.remove('WWW-Authenticate');
    if (!store.query) {
      throw new HttpError(404, 'not_found', `the ${store.kind} store keeps dead letters on the dead-letter topic: read them there (list, show and replay need DLQ_STORE=file or postgres)`);
    }
    return store.query;
  }

  async function find(queries: DeadLetterQueries, id: string): Promise<StoredLetter> {
    const stored = await reading(() => queries.get(id));
    if (!stored) throw new HttpError(404, 'not_found', `no dead letter with id ${JSON.stringify(id)}`);
    return stored;
  }

  function requireReplayer(): Replayer {
    if (!replayer) throw new HttpError(404, 'not_found', 'replay is off: set BROKER_URL to the broker ingress to replay dead letters to');
    return replayer;
  }

  async function list(ctx: Koa.Context): Promise<void> {
    const queries = queriesFor(ctx);
    const limit = parseLimit(query(ctx, 'limit'));
    const cursor = query(ctx, 'cursor');
    if (cursor !== undefined && !queries.validCursor(cursor)) throw new HttpError(400, 'bad_request', 'cursor must be a value returned as nextCursor');
    const page = await reading(() => queries.list({ filter: filterOf(ctx, true), cursor, limit, order: 'newest' }));
    ctx.body = { success: true, items: page.items.map(summary), nextCursor: page.nextCursor, corrupt: queries.corrupt() };
  }

  async function replayBatch(ctx: Koa.Context, queries: DeadLetterQueries): Promise<void> {
    const filter = filterOf(ctx, false);
    const filtered = Object.values(filter).some((value) => value !== undefined);
    if (!filtered && query(ctx, 'all') !== 'true') {
      throw new HttpError(400, 'bad_request', 'a batch replay needs a filter (type, source, code, destination) or all=true');
    }
    const active = requireReplayer();
    const replayed: string[] = [];
    const skipped: string[] = [];
    // Oldest first, a page at a time, one send at a time, stopping at the first failure: the target is
    // probably down for all of them.
    let request: PageRequest = { filter, cursor: undefined, limit: batchPage, order: 'oldest' };
    for (;;) {
      const page = await reading(() => queries.list(request));
      for (const [i, stored] of page.items.entries()) {
        let outcome: ReplayOutcome;
        try {
          outcome = await active.replay(stored, false);
        } catch (err) {
          const message = err instanceof HttpError ? err.message : 'internal error';
          const notAttempted = page.items.length - i - 1 + (page.nextCursor === null ? 0 : await countFrom(queries, { ...request, cursor: page.nextCursor }));
          ctx.status = 502;
          ctx.body = { success: false, replayed, skipped, failed: { id: stored.letter.id, message }, notAttempted };
          return;
        }
        (outcome.replayed ? replayed : skipped).push(stored.letter.id);
      }
      if (page.nextCursor === null) break;
      request = { ...request, cursor: page.nextCursor };
    }
    ctx.body = { success: true, replayed, skipped };
  }

  /** How many matches there are from a cursor on (for the batch's failure report). */
  async function countFrom(queries: DeadLetterQueries, from: PageRequest): Promise<number> {
    let total = 0;
    let request = { ...from, limit: maxLimit };
    for (;;) {
      const page = await reading(() => queries.list(request));
      total += page.items.length;
      if (page.nextCursor === null) return total;
      request = { ...request, cursor: page.nextCursor };
    }
  }

  return [
    { method: 'GET', path: '/dead-letters', handle: list },
    {
      method: 'GET',
      path: '/dead-letters/*',
      async handle(ctx) {
        const queries = queriesFor(ctx);
        const stored = await find(queries, decodeId(ctx.path.slice('/dead-letters/'.length)));
        ctx.body = { success: true, deadLetter: { ...stored.letter, replayed: stored.replayed } };
      },
    },
    {
      method: 'POST',
      path: '/dead-letters/*',
      async handle(ctx) {
        const queries = queriesFor(ctx);
        const rest = ctx.path.slice('/dead-letters/'.length);
        if (rest === 'replay') return replayBatch(ctx, queries);
        const match = /^([^/]+)\/replay$/.exec(rest);
        if (!match) throw new HttpError(404, 'not_found', `no route for POST ${ctx.path}`);
        const stored = await find(queries, decodeId(match[1] as string));
        const outcome = await requireReplayer().replay(stored, query(ctx, 'force') === 'true');
        ctx.body = { success: true, ...outcome };
      },
    },
  ];
}
