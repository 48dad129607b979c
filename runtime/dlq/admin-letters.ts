// The dead letters themselves, in the admin API: GET /dead-letters (a page, filtered), GET /dead-letters/<id>,
// POST /dead-letters/<id>/replay, DELETE /dead-letters/<id> and POST /dead-letters/purge. Every replay and
// purge goes into the audit log, a failed replay too.
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { AdminContext, Handler } from './admin-context.js';
import {
  decodeId,
  filterOf,
  flag,
  parseLimit,
  query,
  reading,
  selectionOf,
  summary,
  type Selection,
} from './admin-request.js';
import { planPurge, purge } from './purge.js';
import { eventJson } from './record.js';
import type { ReplayOutcome } from './replay.js';

export const listLetters =
  (c: AdminContext): Handler =>
  async (ctx) => {
    const queries = c.queriesFor();
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

export const showLetter =
  (c: AdminContext): Handler =>
  async (ctx, params) => {
    const stored = await c.find(c.queriesFor(), decodeId(params[0] ?? ''));
    // `event` shows the data (JSON parsed); `data` is the bytes as they came (what a replay sends).
    ctx.body = {
      success: true,
      deadLetter: { ...stored.letter, event: eventJson(stored.letter), replayed: stored.replayed },
    };
  };

/** What the audit log keeps of one replay's outcome. */
function replayResult(outcome: ReplayOutcome): Record<string, unknown> {
  return outcome.replayed
    ? { replayed: true, status: outcome.status, target: outcome.target, replayId: outcome.replayId }
    : { replayed: false, alreadyReplayedAt: outcome.alreadyReplayedAt };
}

export const replayLetter =
  (c: AdminContext): Handler =>
  async (ctx, params) => {
    const queries = c.queriesFor();
    const { replayer } = c.requireReplay();
    const stored = await c.find(queries, decodeId(params[0] ?? ''));
    const to = query(ctx, 'to');
    const force = flag(ctx, 'force');
    if (flag(ctx, 'dryRun')) {
      const alreadyReplayedAt = stored.replayed?.replayedAt ?? null;
      const wouldSend = !stored.replayed || force;
      ctx.body = { success: true, dryRun: true, alreadyReplayedAt, wouldSend, ...replayer.preview(stored.letter, to) };
      return;
    }
    const what = { id: stored.letter.id, eventId: stored.letter.event.id ?? null, to: to ?? 'destination', force };
    try {
      const outcome = await replayer.replay(stored, { force, to });
      await c.audit(ctx, 'replay', what, replayResult(outcome));
      ctx.body = { success: true, ...outcome };
    } catch (err) {
      const error = err instanceof HttpError ? err.message : 'internal error';
      await c.audit(ctx, 'replay', what, { replayed: false, error }).catch(() => undefined);
      throw err;
    }
  };

/** A purge (or its dry run: how many, and the first few) of ids or a filter. */
async function purgeSelection(c: AdminContext, ctx: RequestContext, selection: Selection): Promise<void> {
  const queries = c.queriesFor();
  if (flag(ctx, 'dryRun')) {
    const planned = await reading(() => planPurge(queries, selection));
    ctx.body = { success: true, dryRun: true, count: planned.count, sample: planned.sample.map(summary) };
    return;
  }
  const removed = await reading(() => purge(queries, selection, c.options.now().toISOString()));
  await c.audit(ctx, 'purge', { ...selection }, { purged: removed });
  ctx.body = { success: true, purged: removed };
}

export const purgeLetters =
  (c: AdminContext): Handler =>
  (ctx) =>
    purgeSelection(c, ctx, selectionOf(ctx, 'a purge'));

export const purgeLetter =
  (c: AdminContext): Handler =>
  async (ctx, params) => {
    const id = decodeId(params[0] ?? '');
    await c.find(c.queriesFor(), id);
    await purgeSelection(c, ctx, { ids: [id] });
  };
