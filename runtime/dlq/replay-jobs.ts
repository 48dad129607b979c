// Bulk replay as a job: POST /dead-letters/replays starts one and answers at once; the job walks the
// matching dead letters oldest first, a page at a time, and replays them at `rate` per second.
//
// - Never blocked by one bad event: a dead letter that cannot be sent (stored raw, a poison attribute, a
//   destination that refuses it) is counted as failed, with why, and the job goes on.
// - Progress (counts, the first failures, the cursor) is saved every second and at the end, in the admin
//   state (admin-state.ts): readable from any replica at GET /dead-letters/replays/<id>.
// - Cancellable (POST .../cancel): the running process stops at the next event; another replica sees the
//   request at its next save.
// - A restart: SIGTERM saves the job as interrupted; after kill -9 the job's heartbeat stops, and it is shown
//   as interrupted (file store: at once, one process owns the file; PostgreSQL: once the heartbeat is older
//   than staleMs). POST .../resume goes on from the saved cursor: the dead letters of the last page that were
//   replayed already are skipped (their marker), so nothing is sent twice unless the job was forced.
import { randomUUID } from 'node:crypto';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { maxFailuresKept, type AdminState, type Caller, type JobFailure, type ReplayJob } from './admin-state.js';
import { rateLimiter } from './rate-limiter.js';
import type { Replayer } from './replay.js';
import type { DeadLetterQueries, LetterFilter, PageRequest, StoredLetter } from './store.js';

export interface JobSpec {
  readonly filter: LetterFilter;
  /** Instead of a filter: these dead letters (the console's selection). */
  readonly ids?: readonly string[];
  readonly to: string;
  readonly rate: number;
  readonly force: boolean;
  readonly caller: Caller;
}

export interface JobRunner {
  start(spec: JobSpec): Promise<ReplayJob>;
  get(id: string): Promise<ReplayJob | undefined>;
  list(limit: number): Promise<ReplayJob[]>;
  cancel(id: string): Promise<ReplayJob>;
  resume(id: string): Promise<ReplayJob>;
  /** Stops the jobs this process runs and saves them as interrupted (SIGTERM). */
  close(): Promise<void>;
}

export interface JobRunnerOptions {
  readonly queries: DeadLetterQueries;
  readonly state: AdminState;
  readonly replayer: Replayer;
  readonly storeKind: 'file' | 'postgres' | 'kafka-sink';
  readonly now: () => Date;
  readonly newId: () => string;
  readonly log: Logger;
  readonly saveEveryMs?: number;
  readonly staleMs?: number;
}

const pageSize = 100;
const countPage = 500;

/** The job's own view of "ids": a filter the page reader understands. */
type JobWithIds = ReplayJob & { readonly ids?: readonly string[] };

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { queries, state, replayer, now, newId, log } = options;
  const saveEveryMs = options.saveEveryMs ?? 1000;
  const staleMs = options.staleMs ?? 15_000;
  const owner = randomUUID();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  function effectiveFilter(job: ReplayJob): LetterFilter {
    return job.force ? job.filter : { ...job.filter, replayed: false };
  }

  /** A running job nobody runs any more is shown as interrupted. */
  function view(job: JobWithIds): JobWithIds {
    if ((job.state !== 'running' && job.state !== 'counting') || running.has(job.id)) return job;
    const stale =
      options.storeKind === 'file' ? job.owner !== owner : now().getTime() - Date.parse(job.heartbeatAt) > staleMs;
    if (!stale) return job;
    return {
      ...job,
      state: 'interrupted',
      reason: `the dlq process running it stopped (restart or crash) after ${job.done} of ${job.total ?? '?'}; POST /dead-letters/replays/${job.id}/resume to go on`,
    };
  }

  async function readPage(request: PageRequest, signal: AbortSignal) {
    // A database restarting: try for about 30 s before the job gives up (it can be resumed).
    for (let attempt = 0; ; attempt++) {
      try {
        return await queries.list(request);
      } catch (err) {
        if (attempt >= 15 || signal.aborted) throw err;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  async function count(job: JobWithIds, signal: AbortSignal): Promise<number> {
    if (job.ids) return job.ids.length;
    let total = 0;
    let request: PageRequest = { filter: effectiveFilter(job), cursor: undefined, limit: countPage, order: 'oldest' };
    for (;;) {
      signal.throwIfAborted();
      const page = await readPage(request, signal);
      total += page.items.length;
      if (page.nextCursor === null) return total;
      request = { ...request, cursor: page.nextCursor };
    }
  }

  /** Pages of dead letters from the job's cursor: by filter, or the listed ids in order. */
  async function* pages(
    job: JobWithIds,
    signal: AbortSignal,
  ): AsyncGenerator<{ items: StoredLetter[]; missing: string[]; next: string | null }> {
    if (job.ids) {
      let from = job.cursor === null ? 0 : Number(job.cursor);
      while (from < job.ids.length) {
        const slice = job.ids.slice(from, from + pageSize);
        const items: StoredLetter[] = [];
        const missing: string[] = [];
        for (const id of slice) {
          const stored = await queries.get(id);
          if (stored) items.push(stored);
          else missing.push(id);
        }
        from += slice.length;
        yield { items, missing, next: from < job.ids.length ? String(from) : null };
      }
      return;
    }
    let request: PageRequest = {
      filter: effectiveFilter(job),
      cursor: job.cursor ?? undefined,
      limit: pageSize,
      order: 'oldest',
    };
    for (;;) {
      const page = await readPage(request, signal);
      yield { items: [...page.items], missing: [], next: page.nextCursor };
      if (page.nextCursor === null) return;
      request = { ...request, cursor: page.nextCursor };
    }
  }

  async function run(initial: JobWithIds, controller: AbortController): Promise<void> {
    const { signal } = controller;
    let job: JobWithIds = initial;
    // Saves in order, one at a time: the heartbeat timer and the job's own progress share this.
    let saving: Promise<void> = Promise.resolve();
    const save = (patch: Partial<JobWithIds>): Promise<void> => {
      const next = saving.then(async () => {
        const at = now().toISOString();
        job = { ...job, ...patch, updatedAt: at, heartbeatAt: at };
        await state.saveJob(job);
      });
      saving = next.catch(() => undefined);
      return next;
    };
    // The end: in the audit log first, then saved, so whoever sees the final state finds its audit entry.
    const finish = async (patch: Partial<JobWithIds>): Promise<void> => {
      await audit({ ...job, ...patch });
      await save(patch);
    };
    const failures: JobFailure[] = [...job.failures];
    const counts = { replayed: job.replayed, skipped: job.skipped, failed: job.failed };
    const progress = () => ({
      ...counts,
      done: counts.replayed + counts.skipped + counts.failed,
      failures: [...failures],
    });
    const fail = (id: string, eventId: unknown, message: string) => {
      counts.failed++;
      if (failures.length < maxFailuresKept)
        failures.push({
          id,
          eventId: typeof eventId === 'string' ? eventId.slice(0, 200) : null,
          message: message.slice(0, 500),
        });
    };
    // The heartbeat: progress saved every second even while one send waits on a slow target, and a cancel
    // asked through another replica picked up.
    const heartbeat = setInterval(() => {
      void state
        .getJob(job.id)
        .then((saved) => {
          if (saved?.cancelRequested && !signal.aborted) controller.abort(new Error('cancelled'));
          return save(progress());
        })
        .catch((err: unknown) =>
          log.warn({ err, job: job.id }, 'replay job: progress could not be saved; trying again in a second'),
        );
    }, saveEveryMs);
    heartbeat.unref();
    try {
      if (job.total === null) {
        const total = await count(job, signal);
        await save({ total, state: 'running' });
      }
      const limiter = rateLimiter(job.rate, signal);
      // Sends leave on the limiter's schedule, not one after the other's answer: a target that takes 50 ms, or
      // the replay marker's fsync, does not cap the rate. A few are in flight at once (about 0.2 s worth).
      const maxInFlight = Math.max(1, Math.min(64, Math.ceil(job.rate / 5)));
      const inFlight = new Set<Promise<void>>();
      const replayOne = async (stored: StoredLetter): Promise<void> => {
        try {
          const outcome = await replayer.replay(stored, {
            force: job.force,
            to: job.to,
            job: job.id,
            beforeSend: () => limiter.take(),
          });
          if (outcome.replayed) counts.replayed++;
          else counts.skipped++;
        } catch (err) {
          if (signal.aborted) return; // stopped while waiting for its turn: not sent, not counted
          fail(
            stored.letter.id,
            stored.letter.event.id,
            err instanceof HttpError ? err.message : `unexpected error: ${(err as Error).message ?? String(err)}`,
          );
          if (!(err instanceof HttpError))
            log.error(
              { err, deadLetter: stored.letter.id, job: job.id },
              'replay job: unexpected error on one dead letter; going on',
            );
        }
      };
      for await (const page of pages(job, signal)) {
        for (const id of page.missing) fail(id, null, 'no such dead letter (purged?)');
        for (const stored of page.items) {
          if (signal.aborted) break;
          while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
          if (signal.aborted) break;
          const running = replayOne(stored).finally(() => inFlight.delete(running));
          inFlight.add(running);
        }
        // The page is done when all of it is: a resume starts after it.
        await Promise.all(inFlight);
        if (signal.aborted) break;
        job = { ...job, cursor: page.next };
      }
      await Promise.all(inFlight);
      if (signal.aborted) {
        const why = signal.reason instanceof Error ? signal.reason.message : 'stopped';
        if (why === 'shutdown') {
          await finish({
            ...progress(),
            state: 'interrupted',
            reason: `the dlq was stopped (SIGTERM) after ${counts.replayed + counts.skipped + counts.failed} of ${job.total}; POST /dead-letters/replays/${job.id}/resume to go on`,
          });
        } else {
          await finish({ ...progress(), state: 'cancelled', cancelRequested: true, finishedAt: now().toISOString() });
        }
      } else {
        await finish({ ...progress(), state: 'done', cursor: null, finishedAt: now().toISOString() });
      }
      log.info(
        { job: job.id, state: job.state, replayed: counts.replayed, skipped: counts.skipped, failed: counts.failed },
        'replay job finished',
      );
    } catch (err) {
      const reason = signal.aborted
        ? 'stopped'
        : err instanceof HttpError
          ? err.message
          : `unexpected error: ${(err as Error).message ?? String(err)}`;
      log.error({ err, job: job.id }, 'replay job stopped: the dead letters could not be read');
      await finish({
        ...progress(),
        state: signal.aborted ? 'interrupted' : 'failed',
        reason,
        finishedAt: now().toISOString(),
      }).catch((saveErr: unknown) => {
        log.error({ err: saveErr, job: job.id }, 'replay job: its final state could not be saved');
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** The outcome of a job in the audit log, under the caller who started it (its start is audited by admin.ts). */
  async function audit(job: JobWithIds): Promise<void> {
    const result = {
      state: job.state,
      total: job.total,
      replayed: job.replayed,
      skipped: job.skipped,
      failed: job.failed,
      ...(job.reason ? { reason: job.reason } : {}),
    };
    await state
      .appendAudit({
        id: newId(),
        at: now().toISOString(),
        action: 'replay-job-end',
        caller: job.caller,
        what: { job: job.id, to: job.to, rate: job.rate },
        result,
      })
      .catch((err: unknown) =>
        log.error({ err, job: job.id }, 'replay job: its outcome could not be written to the audit log'),
      );
  }

  function launch(job: JobWithIds): void {
    const controller = new AbortController();
    const done = run(job, controller).finally(() => running.delete(job.id));
    running.set(job.id, { controller, done });
  }

  async function find(id: string): Promise<JobWithIds> {
    const job = await state.getJob(id);
    if (!job) throw new HttpError(404, 'not_found', `no replay job with id ${JSON.stringify(id)}`);
    return view(job);
  }

  return {
    async start(spec) {
      replayer.targets.check(spec.to === 'destination' ? undefined : spec.to);
      const at = now().toISOString();
      const job: JobWithIds = {
        id: newId(),
        createdAt: at,
        updatedAt: at,
        heartbeatAt: at,
        owner,
        state: 'counting',
        filter: spec.filter,
        ...(spec.ids ? { ids: [...spec.ids] } : {}),
        to: spec.to,
        rate: spec.rate,
        force: spec.force,
        caller: spec.caller,
        total: null,
        done: 0,
        replayed: 0,
        skipped: 0,
        failed: 0,
        failures: [],
        cursor: null,
        cancelRequested: false,
      };
      await state.saveJob(job);
      launch(job);
      return job;
    },
    get: async (id) => {
      const job = await state.getJob(id);
      return job && view(job);
    },
    list: async (limit) => (await state.listJobs(limit)).map(view),
    async cancel(id) {
      const job = await find(id);
      const local = running.get(id);
      if (local) {
        local.controller.abort(new Error('cancelled'));
        await local.done;
        return (await state.getJob(id)) ?? job;
      }
      if (job.state === 'running' || job.state === 'counting') {
        // Run by another replica: it sees this at its next save.
        const asked = { ...job, cancelRequested: true, updatedAt: now().toISOString() };
        await state.saveJob(asked);
        return asked;
      }
      if (job.state === 'interrupted') {
        const cancelled: JobWithIds = {
          ...job,
          state: 'cancelled',
          cancelRequested: true,
          finishedAt: now().toISOString(),
          updatedAt: now().toISOString(),
        };
        await state.saveJob(cancelled);
        return cancelled;
      }
      throw new HttpError(409, 'conflict', `replay job ${id} is ${job.state}: there is nothing to cancel`);
    },
    async resume(id) {
      const job = await find(id);
      if (job.state !== 'interrupted' && job.state !== 'failed')
        throw new HttpError(
          409,
          'conflict',
          `replay job ${id} is ${job.state}: only an interrupted or failed job can be resumed`,
        );
      const at = now().toISOString();
      const resumed: JobWithIds = {
        ...job,
        owner,
        state: job.total === null ? 'counting' : 'running',
        heartbeatAt: at,
        updatedAt: at,
        reason: undefined,
        finishedAt: undefined,
      };
      await state.saveJob(resumed);
      launch(resumed);
      return resumed;
    },
    async close() {
      const all = [...running.values()];
      for (const job of all) job.controller.abort(new Error('shutdown'));
      await Promise.all(all.map((job) => job.done));
    },
  };
}
