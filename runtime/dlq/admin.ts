// The dead-letter admin API, behind the bearer token in DLQ_ADMIN_TOKEN:
//   GET  /dead-letters                     newest first; ?type= &source= &code= &replayed=true|false &limit= &cursor=
//   GET  /dead-letters/<id>                one dead letter, with its replay marker
//   POST /dead-letters/<id>/replay         send it again to BROKER_URL (?force=true to send a replayed one again)
//   POST /dead-letters/replay              every not-yet-replayed match of ?type= &source= &code= (or ?all=true)
import type Koa from 'koa';
import { HttpError } from '../http/errors.js';
import type { Route } from '../roles/role.js';
import { bearerTokenMatches } from '../http/bearer.js';
import type { DeadLetter } from './record.js';
import type { ReplayOutcome, Replayer } from './replay.js';
import type { DeadLetterStore, StoreContents } from './store.js';

export interface AdminOptions {
  readonly token: string;
  readonly store: DeadLetterStore;
  /** Undefined when BROKER_URL is not set: replay is off. */
  readonly replayer: Replayer | undefined;
}

const defaultLimit = 50;
const maxLimit = 500;

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

/** The cursor is the position of the last item returned; the next page starts just before it. */
function parseCursor(raw: string | undefined, length: number): number {
  if (raw === undefined) return length;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > length) throw new HttpError(400, 'bad_request', 'cursor must be a value returned as nextCursor');
  return n;
}

function matcher(ctx: Koa.Context, contents: StoreContents): (letter: DeadLetter) => boolean {
  const type = query(ctx, 'type');
  const source = query(ctx, 'source');
  const code = query(ctx, 'code');
  const replayed = query(ctx, 'replayed');
  if (replayed !== undefined && replayed !== 'true' && replayed !== 'false') throw new HttpError(400, 'bad_request', 'replayed must be true or false');
  return (letter) =>
    (type === undefined || letter.event.type === type) &&
    (source === undefined || letter.event.source === source) &&
    (code === undefined || letter.error.code === code) &&
    (replayed === undefined || contents.replays.has(letter.id) === (replayed === 'true'));
}

function summary(letter: DeadLetter, contents: StoreContents) {
  return {
    id: letter.id,
    receivedAt: letter.receivedAt,
    eventId: letter.event.id,
    type: letter.event.type,
    source: letter.event.source,
    error: letter.error,
    replayedAt: contents.replays.get(letter.id)?.replayedAt ?? null,
  };
}

export function adminRoutes(options: AdminOptions): Route[] {
  const { token, store, replayer } = options;

  async function contentsFor(ctx: Koa.Context): Promise<StoreContents> {
    ctx.set('WWW-Authenticate', 'Bearer realm="dead-letters"');
    if (!bearerTokenMatches(ctx.get('authorization') || undefined, token)) {
      throw new HttpError(401, 'unauthorized', 'the dead-letter admin API needs "Authorization: Bearer <DLQ_ADMIN_TOKEN>"');
    }
    ctx.remove('WWW-Authenticate');
    if (!store.read) {
      throw new HttpError(404, 'not_found', `the ${store.kind} store keeps dead letters on the dead-letter topic: read them there (list, show and replay need DLQ_STORE=file)`);
    }
    return store.read();
  }

  function findLetter(contents: StoreContents, id: string): DeadLetter {
    const letter = contents.letters.find((l) => l.id === id);
    if (!letter) throw new HttpError(404, 'not_found', `no dead letter with id ${JSON.stringify(id)}`);
    return letter;
  }

  function requireReplayer(): Replayer {
    if (!replayer) throw new HttpError(404, 'not_found', 'replay is off: set BROKER_URL to the broker ingress to replay dead letters to');
    return replayer;
  }

  async function list(ctx: Koa.Context): Promise<void> {
    const contents = await contentsFor(ctx);
    const limit = parseLimit(query(ctx, 'limit'));
    const start = parseCursor(query(ctx, 'cursor'), contents.letters.length);
    const matches = matcher(ctx, contents);
    const items = [];
    let position = start - 1;
    for (; position >= 0 && items.length < limit; position--) {
      const letter = contents.letters[position] as DeadLetter;
      if (matches(letter)) items.push(summary(letter, contents));
    }
    const more = contents.letters.slice(0, position + 1).some(matches);
    ctx.body = { success: true, items, nextCursor: more ? String(position + 1) : null, corrupt: contents.corrupt };
  }

  async function replayBatch(ctx: Koa.Context, contents: StoreContents): Promise<void> {
    const filtered = ['type', 'source', 'code'].some((name) => query(ctx, name) !== undefined);
    if (!filtered && query(ctx, 'all') !== 'true') {
      throw new HttpError(400, 'bad_request', 'a batch replay needs a filter (type, source, code) or all=true');
    }
    const active = requireReplayer();
    const matches = matcher(ctx, contents);
    const replayed: string[] = [];
    const skipped: string[] = [];
    const pending = contents.letters.filter(matches);
    // Oldest first, one at a time, stopping at the first failure: the target is probably down for all.
    for (let i = 0; i < pending.length; i++) {
      const letter = pending[i] as DeadLetter;
      let outcome: ReplayOutcome;
      try {
        outcome = await active.replay(letter, contents, false);
      } catch (err) {
        const message = err instanceof HttpError ? err.message : 'internal error';
        ctx.status = 502;
        ctx.body = { success: false, replayed, skipped, failed: { id: letter.id, message }, notAttempted: pending.length - i - 1 };
        return;
      }
      (outcome.replayed ? replayed : skipped).push(letter.id);
    }
    ctx.body = { success: true, replayed, skipped };
  }

  return [
    { method: 'GET', path: '/dead-letters', handle: list },
    {
      method: 'GET',
      path: '/dead-letters/*',
      async handle(ctx) {
        const contents = await contentsFor(ctx);
        const id = decodeId(ctx.path.slice('/dead-letters/'.length));
        const letter = findLetter(contents, id);
        ctx.body = { success: true, deadLetter: { ...letter, replayed: contents.replays.get(letter.id) ?? null } };
      },
    },
    {
      method: 'POST',
      path: '/dead-letters/*',
      async handle(ctx) {
        const contents = await contentsFor(ctx);
        const rest = ctx.path.slice('/dead-letters/'.length);
        if (rest === 'replay') return replayBatch(ctx, contents);
        const match = /^([^/]+)\/replay$/.exec(rest);
        if (!match) throw new HttpError(404, 'not_found', `no route for POST ${ctx.path}`);
        const letter = findLetter(contents, decodeId(match[1] as string));
        const outcome = await requireReplayer().replay(letter, contents, query(ctx, 'force') === 'true');
        ctx.body = { success: true, ...outcome };
      },
    },
  ];
}
