// Bulk replay jobs, in the admin API: POST /dead-letters/replays starts one (or, with dryRun=true, counts and
// shows what it would send), GET /dead-letters/replays lists them, GET .../<job> shows one, POST .../<job>/cancel
// and .../resume act on it. Starting, cancelling and resuming are audited; the job's end is audited by the job.
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { AdminContext, Handler } from './admin-context.js';
import {
  callerOf,
  decodeId,
  flag,
  parseLimit,
  query,
  reading,
  selectionOf,
  summary,
  type Selection,
} from './admin-request.js';
import { planPurge } from './purge.js';

interface JobRequest {
  readonly selection: Selection;
  readonly to: string;
  readonly rate: number;
  readonly force: boolean;
}

/** The dry run: how many a job would replay, how long it would take, and the first few as they would go out. */
async function planJob(c: AdminContext, ctx: RequestContext, request: JobRequest): Promise<void> {
  const { selection, to, rate, force } = request;
  const { replayer } = c.requireReplay();
  const planned = await reading(() =>
    planPurge(
      c.queriesFor(),
      'ids' in selection ? selection : { filter: force ? selection.filter : { ...selection.filter, replayed: false } },
    ),
  );
  const sample = planned.sample.map((stored) => {
    try {
      return { ...summary(stored), ...replayer.preview(stored.letter, to) };
    } catch (err) {
      return { ...summary(stored), cannotReplay: err instanceof HttpError ? err.message : 'internal error' };
    }
  });
  const estimatedSeconds = Math.ceil(planned.count / rate);
  ctx.body = { success: true, dryRun: true, count: planned.count, to, rate, estimatedSeconds, sample };
}

export const startJob =
  (c: AdminContext): Handler =>
  async (ctx) => {
    c.queriesFor();
    const { replayer, jobs } = c.requireReplay();
    const selection = selectionOf(ctx, 'a bulk replay');
    const to = query(ctx, 'to') ?? 'destination';
    replayer.targets.check(to);
    const rate = c.rateOf(ctx);
    const force = flag(ctx, 'force');
    if (flag(ctx, 'dryRun')) return planJob(c, ctx, { selection, to, rate, force });
    const filter = 'filter' in selection ? selection.filter : {};
    const caller = callerOf(ctx, c.options.token);
    const job = await reading(() => jobs.start({ ...selection, filter, to, rate, force, caller }));
    await c.audit(ctx, 'replay-job', { job: job.id, ...selection, to, rate, force }, { started: true });
    ctx.status = 202;
    ctx.set('Location', `/dead-letters/replays/${encodeURIComponent(job.id)}`);
    ctx.body = { success: true, job };
  };

export const listJobs =
  (c: AdminContext): Handler =>
  async (ctx) => {
    const { jobs } = c.requireReplay();
    ctx.body = { success: true, jobs: await reading(() => jobs.list(parseLimit(query(ctx, 'limit') ?? '20'))) };
  };

export const showJob =
  (c: AdminContext): Handler =>
  async (ctx, params) => {
    const { jobs } = c.requireReplay();
    const id = decodeId(params[0] ?? '');
    const job = await reading(() => jobs.get(id));
    if (!job) throw new HttpError(404, 'not_found', `no replay job with id ${JSON.stringify(id)}`);
    ctx.body = { success: true, job };
  };

export const jobAction =
  (c: AdminContext, action: 'cancel' | 'resume'): Handler =>
  async (ctx, params) => {
    const { jobs } = c.requireReplay();
    const id = decodeId(params[0] ?? '');
    const job = await reading(() => (action === 'cancel' ? jobs.cancel(id) : jobs.resume(id)));
    await c.audit(
      ctx,
      action === 'cancel' ? 'replay-job-cancel' : 'replay-job-resume',
      { job: id },
      { state: job.state, done: job.done, total: job.total },
    );
    ctx.body = { success: true, job };
  };
