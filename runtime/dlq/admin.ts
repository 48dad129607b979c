// The dead-letter admin API, behind the bearer token in DLQ_ADMIN_TOKEN (docs/sink-forwarder-and-dlq.md):
//   GET    /dead-letters                        newest first; filters ?type= &source= &code= &destination= &replayed=
//                                               &receivedFrom= &receivedTo= (ISO 8601), &limit= &cursor=
//   GET    /dead-letters/<id>                   one dead letter, with its replay marker
//   POST   /dead-letters/<id>/replay            ?to=destination|broker|<allow-listed url> &force=true &dryRun=true
//   DELETE /dead-letters/<id>                   purge one (?dryRun=true: is it there)
//   POST   /dead-letters/replays                a bulk replay job over the list's filters (or ?ids=a,b), ?to= &rate= &force= &dryRun=
//   GET    /dead-letters/replays                the latest jobs;  GET /dead-letters/replays/<job>: its progress
//   POST   /dead-letters/replays/<job>/cancel   and  /resume (an interrupted or failed job)
//   POST   /dead-letters/purge                  by ?ids=a,b or by the list's filters (or all=true); ?dryRun=true counts
//   GET    /dead-letters/audit                  every replay and purge, newest first
//   GET    /dead-letters/settings               what the console needs: targets, rates, the store
//   GET    /dead-letters/ui                     the console (dlq/console/): static files, no token needed to load
//                                               them; every call it makes carries the token
// `POST /dead-letters/replay` (the old batch replay) starts a job too. Every replay and purge is audited with
// the caller's label (X-Dlq-Caller) and a fingerprint of the token.
import { createHash } from 'node:crypto';
import { bearerTokenMatches } from '../http/bearer.js';
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { Route } from '../roles/role.js';
import type { AdminState, AuditEntry, Caller } from './admin-state.js';
import { planPurge, purge } from './purge.js';
import { eventJson } from './record.js';
import type { Replayer } from './replay.js';
import type { JobRunner } from './replay-jobs.js';
import type { DeadLetterQueries, DeadLetterStore, LetterFilter, StoredLetter } from './store.js';

export interface AdminOptions {
  readonly token: string;
  readonly store: DeadLetterStore;
  readonly state: AdminState;
  /** Undefined when the store cannot be read back. */
  readonly replayer: Replayer | undefined;
  readonly jobs: JobRunner | undefined;
  readonly rates: { readonly defaultRate: number; readonly maxRate: number };
  readonly now: () => Date;
  readonly newId: () => string;
}

const defaultLimit = 50;
const maxLimit = 500;
const maxIds = 1000;

function query(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.query[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one === '' ? undefined : one;
}

function flag(ctx: RequestContext, name: string): boolean {
  const value = query(ctx, name);
  if (value !== undefined && value !== 'true' && value !== 'false')
    throw new HttpError(400, 'bad_request', `${name} must be true or false`);
  return value === 'true';
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'the id in the path is not valid percent-encoding');
  }
}

function parseLimit(raw: string | undefined): number {
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

function filterOf(ctx: RequestContext): LetterFilter {
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
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined)) as LetterFilter;
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

/** A filter, ids, or all=true: a bulk action never runs over everything by accident. */
function selectionOf(ctx: RequestContext, action: string): { ids: string[] } | { filter: LetterFilter } {
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

/** The caller's own label for the audit log: printable, at most 100 characters. */
function callerOf(ctx: RequestContext, token: string): Caller {
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

/** `params`: the path's `:name` segments, as sent (decodeId decodes an id, refusing bad percent-encoding). */
type Handler = (ctx: RequestContext, params: readonly string[]) => Promise<void>;

export function adminRoutes(options: AdminOptions): Route[] {
  const { token, store, state, replayer, jobs, rates, now, newId } = options;

  function authorise(ctx: RequestContext): void {
    ctx.set('WWW-Authenticate', 'Bearer realm="dead-letters"');
    if (!bearerTokenMatches(ctx.get('authorization') || undefined, token)) {
      throw new HttpError(
        401,
        'unauthorized',
        'the dead-letter admin API needs "Authorization: Bearer <DLQ_ADMIN_TOKEN>"',
      );
    }
    ctx.remove('WWW-Authenticate');
    ctx.set('Cache-Control', 'no-store');
  }

  function queriesFor(): DeadLetterQueries {
    if (!store.query) {
      throw new HttpError(
        404,
        'not_found',
        `the ${store.kind} store keeps dead letters on the dead-letter topic: read them there (list, show, replay and purge need DLQ_STORE=file or postgres)`,
      );
    }
    return store.query;
  }

  function requireReplay(): { replayer: Replayer; jobs: JobRunner } {
    if (!replayer || !jobs)
      throw new HttpError(
        404,
        'not_found',
        `replay needs a store that can be read back (DLQ_STORE=file or postgres); this one is ${store.kind}`,
      );
    return { replayer, jobs };
  }

  async function find(queries: DeadLetterQueries, id: string): Promise<StoredLetter> {
    const stored = await reading(() => queries.get(id));
    if (!stored) throw new HttpError(404, 'not_found', `no dead letter with id ${JSON.stringify(id)}`);
    return stored;
  }

  async function audit(
    ctx: RequestContext,
    action: AuditEntry['action'],
    what: Record<string, unknown>,
    result: Record<string, unknown>,
  ): Promise<void> {
    await reading(() =>
      state.appendAudit({ id: newId(), at: now().toISOString(), action, caller: callerOf(ctx, token), what, result }),
    );
  }

  function rateOf(ctx: RequestContext): number {
    const raw = query(ctx, 'rate');
    if (raw === undefined) return rates.defaultRate;
    const rate = Number(raw);
    if (!Number.isFinite(rate) || rate <= 0 || rate > rates.maxRate)
      throw new HttpError(
        400,
        'bad_request',
        `rate must be a number of events per second above 0 and at most ${rates.maxRate} (DLQ_REPLAY_RATE_MAX)`,
      );
    return rate;
  }

  const list: Handler = async (ctx) => {
    const queries = queriesFor();
    const limit = parseLimit(query(ctx, 'limit'));
    const cursor = query(ctx, 'cursor');
    if (cursor !== undefined && !queries.validCursor(cursor))
      throw new HttpError(400, 'bad_request', 'cursor must be a value returned as nextCursor');
    const page = await reading(() => queries.list({ filter: filterOf(ctx), cursor, limit, order: 'newest' }));
    ctx.body = {
      success: true,
      items: page.items.map(summary),
      nextCursor: page.nextCursor,
      corrupt: queries.corrupt(),
    };
  };

  const show: Handler = async (ctx, params) => {
    const stored = await find(queriesFor(), decodeId(params[0] ?? ''));
    // `event` shows the data (JSON parsed); `data` is the bytes as they came (what a replay sends).
    ctx.body = {
      success: true,
      deadLetter: { ...stored.letter, event: eventJson(stored.letter), replayed: stored.replayed },
    };
  };

  const replayOne: Handler = async (ctx, params) => {
    const queries = queriesFor();
    const { replayer: active } = requireReplay();
    const stored = await find(queries, decodeId(params[0] ?? ''));
    const to = query(ctx, 'to');
    const force = flag(ctx, 'force');
    if (flag(ctx, 'dryRun')) {
      ctx.body = {
        success: true,
        dryRun: true,
        alreadyReplayedAt: stored.replayed?.replayedAt ?? null,
        wouldSend: !stored.replayed || force,
        ...active.preview(stored.letter, to),
      };
      return;
    }
    const what = { id: stored.letter.id, eventId: stored.letter.event.id ?? null, to: to ?? 'destination', force };
    try {
      const outcome = await active.replay(stored, { force, to });
      await audit(
        ctx,
        'replay',
        what,
        outcome.replayed
          ? { replayed: true, status: outcome.status, target: outcome.target, replayId: outcome.replayId }
          : { replayed: false, alreadyReplayedAt: outcome.alreadyReplayedAt },
      );
      ctx.body = { success: true, ...outcome };
    } catch (err) {
      await audit(ctx, 'replay', what, {
        replayed: false,
        error: err instanceof HttpError ? err.message : 'internal error',
      }).catch(() => undefined);
      throw err;
    }
  };

  const startJob: Handler = async (ctx) => {
    const queries = queriesFor();
    const { replayer: active, jobs: runner } = requireReplay();
    const selection = selectionOf(ctx, 'a bulk replay');
    const to = query(ctx, 'to') ?? 'destination';
    active.targets.check(to);
    const rate = rateOf(ctx);
    const force = flag(ctx, 'force');
    if (flag(ctx, 'dryRun')) {
      const planned = await reading(() =>
        planPurge(
          queries,
          'ids' in selection
            ? selection
            : { filter: force ? selection.filter : { ...selection.filter, replayed: false } },
        ),
      );
      const sample = planned.sample.map((stored) => {
        try {
          return { ...summary(stored), ...active.preview(stored.letter, to) };
        } catch (err) {
          return { ...summary(stored), cannotReplay: err instanceof HttpError ? err.message : 'internal error' };
        }
      });
      ctx.body = {
        success: true,
        dryRun: true,
        count: planned.count,
        to,
        rate,
        estimatedSeconds: Math.ceil(planned.count / rate),
        sample,
      };
      return;
    }
    const job = await reading(() =>
      runner.start({
        ...selection,
        filter: 'filter' in selection ? selection.filter : {},
        to,
        rate,
        force,
        caller: callerOf(ctx, token),
      }),
    );
    await audit(ctx, 'replay-job', { job: job.id, ...selection, to, rate, force }, { started: true });
    ctx.status = 202;
    ctx.set('Location', `/dead-letters/replays/${encodeURIComponent(job.id)}`);
    ctx.body = { success: true, job };
  };

  const listJobs: Handler = async (ctx) => {
    const { jobs: runner } = requireReplay();
    ctx.body = { success: true, jobs: await reading(() => runner.list(parseLimit(query(ctx, 'limit') ?? '20'))) };
  };

  const showJob: Handler = async (ctx, params) => {
    const { jobs: runner } = requireReplay();
    const id = decodeId(params[0] ?? '');
    const job = await reading(() => runner.get(id));
    if (!job) throw new HttpError(404, 'not_found', `no replay job with id ${JSON.stringify(id)}`);
    ctx.body = { success: true, job };
  };

  const jobAction =
    (action: 'cancel' | 'resume'): Handler =>
    async (ctx, params) => {
      const { jobs: runner } = requireReplay();
      const id = decodeId(params[0] ?? '');
      const job = await reading(() => (action === 'cancel' ? runner.cancel(id) : runner.resume(id)));
      await audit(
        ctx,
        action === 'cancel' ? 'replay-job-cancel' : 'replay-job-resume',
        { job: id },
        { state: job.state, done: job.done, total: job.total },
      );
      ctx.body = { success: true, job };
    };

  async function purgeSelection(
    ctx: RequestContext,
    selection: { ids: string[] } | { filter: LetterFilter },
  ): Promise<void> {
    const queries = queriesFor();
    if (flag(ctx, 'dryRun')) {
      const planned = await reading(() => planPurge(queries, selection));
      ctx.body = { success: true, dryRun: true, count: planned.count, sample: planned.sample.map(summary) };
      return;
    }
    const removed = await reading(() => purge(queries, selection, now().toISOString()));
    await audit(ctx, 'purge', { ...selection }, { purged: removed });
    ctx.body = { success: true, purged: removed };
  }

  const purgeMany: Handler = (ctx) => purgeSelection(ctx, selectionOf(ctx, 'a purge'));
  const purgeOne: Handler = async (ctx, params) => {
    const id = decodeId(params[0] ?? '');
    await find(queriesFor(), id);
    await purgeSelection(ctx, { ids: [id] });
  };

  const auditLog: Handler = async (ctx) => {
    const cursor = query(ctx, 'cursor');
    if (cursor !== undefined && !state.validAuditCursor(cursor))
      throw new HttpError(400, 'bad_request', 'cursor must be a value returned as nextCursor');
    const page = await reading(() => state.listAudit(parseLimit(query(ctx, 'limit')), cursor));
    ctx.body = { success: true, items: page.items, nextCursor: page.nextCursor };
  };

  const settings: Handler = async (ctx) => {
    ctx.body = {
      success: true,
      store: store.kind,
      readable: store.query !== undefined,
      targets: {
        destination: true,
        broker: replayer?.targets.brokerUrl ?? null,
        allowed: replayer?.targets.allowed ?? [],
      },
      rate: rates,
    };
  };

  async function serveConsole(ctx: RequestContext, file: string | undefined): Promise<void> {
    // Imported only when the page is asked for: no other request or role pays for the console's bytes.
    const { consoleAsset, consoleHeaders } = await import('./console/assets.js');
    const asset = consoleAsset(file ?? 'index.html');
    if (!asset) throw new HttpError(404, 'not_found', `no console file ${JSON.stringify(file)}`);
    for (const [name, value] of Object.entries(consoleHeaders)) ctx.set(name, value);
    ctx.set('Content-Type', asset.type);
    ctx.body = asset.body;
  }

  // Method, path (under /dead-letters), handler; `open` routes need no token. The router takes the first
  // that matches, so the fixed paths come before the `:id` ones they would otherwise match.
  const table: Array<{ method: Route['method']; path: string; handle: Handler; open?: boolean }> = [
    { method: 'GET', path: '', handle: list },
    { method: 'GET', path: '/ui', handle: (ctx) => serveConsole(ctx, undefined), open: true },
    // The page's links are relative to /dead-letters/ui (so it works under any path prefix): no trailing slash.
    { method: 'GET', path: '/ui/', handle: async (ctx) => ctx.redirect('../ui'), open: true },
    { method: 'GET', path: '/ui/:file', handle: (ctx, [file]) => serveConsole(ctx, file), open: true },
    { method: 'GET', path: '/settings', handle: settings },
    { method: 'GET', path: '/audit', handle: auditLog },
    { method: 'GET', path: '/replays', handle: listJobs },
    { method: 'GET', path: '/replays/:job', handle: showJob },
    { method: 'POST', path: '/replays', handle: startJob },
    { method: 'POST', path: '/replay', handle: startJob },
    { method: 'POST', path: '/replays/:job/cancel', handle: jobAction('cancel') },
    { method: 'POST', path: '/replays/:job/resume', handle: jobAction('resume') },
    { method: 'POST', path: '/purge', handle: purgeMany },
    { method: 'POST', path: '/:id/replay', handle: replayOne },
    { method: 'DELETE', path: '/:id', handle: purgeOne },
    { method: 'GET', path: '/:id', handle: show },
  ];

  return table.map(({ method, path, handle, open }) => ({
    method,
    path: `/dead-letters${path}`,
    handle: open
      ? handle
      : (ctx, params) => {
          authorise(ctx);
          return handle(ctx, params);
        },
  }));
}
