// One bulk replay job, run by this process: its dead letters page by page at the job's rate, a few sends in
// flight at once; its progress saved every second (the heartbeat, which also picks up a cancel asked through
// another replica) and at the end, after its outcome is in the audit log. Why it is built this way: the top
// of replay-jobs.ts.
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { maxFailuresKept, type AdminState, type JobFailure } from './admin-state.js';
import { rateLimiter, type RateLimiter } from './rate-limiter.js';
import type { Replayer } from './replay.js';
import { countJob, jobPages, type JobWithIds, type Sleep } from './replay-job-pages.js';
import type { DeadLetterQueries, StoredLetter } from './store.js';

export interface JobRunDeps {
  readonly queries: DeadLetterQueries;
  readonly state: AdminState;
  readonly replayer: Replayer;
  readonly now: () => Date;
  readonly newId: () => string;
  readonly log: Logger;
  readonly saveEveryMs: number;
  readonly sleep: Sleep;
}

type Patch = Partial<JobWithIds>;

/** The job as last saved; saves go in order, one at a time: the heartbeat and the job's own progress share them. */
function jobSaver(state: AdminState, now: () => Date, initial: JobWithIds) {
  let job = initial;
  let saving: Promise<void> = Promise.resolve();
  return {
    get job(): JobWithIds {
      return job;
    },
    /** A change kept until the next save (the cursor after a page). */
    note(patch: Patch): void {
      job = { ...job, ...patch };
    },
    save(patch: Patch): Promise<void> {
      const next = saving.then(async () => {
        const at = now().toISOString();
        job = { ...job, ...patch, updatedAt: at, heartbeatAt: at };
        await state.saveJob(job);
      });
      saving = next.catch(() => undefined);
      return next;
    },
  };
}
type JobSaver = ReturnType<typeof jobSaver>;

/**
 * The counts and the first failures, from where the job stood (a resumed job goes on counting). Several sends
 * are in flight at once and answer in any order, so each failure carries its dead letter's place in the job
 * (`seq`) and the kept failures are the first ones in the job's order, not in the order the answers came back:
 * the same job reports the same failures. Those saved before a resume come first (they were earlier pages).
 */
function jobProgress(job: JobWithIds) {
  const kept: Array<{ seq: number; failure: JobFailure }> = job.failures.map((failure) => ({ seq: -1, failure }));
  const counts = { replayed: job.replayed, skipped: job.skipped, failed: job.failed };
  return {
    counts,
    fail(seq: number, id: string, eventId: unknown, message: string): void {
      counts.failed++;
      if (kept.length >= maxFailuresKept && seq > (kept.at(-1)?.seq ?? seq)) return;
      let at = kept.length;
      while (at > 0 && (kept[at - 1]?.seq ?? seq) > seq) at--;
      const failure = {
        id,
        eventId: typeof eventId === 'string' ? eventId.slice(0, 200) : null,
        message: message.slice(0, 500),
      };
      kept.splice(at, 0, { seq, failure });
      if (kept.length > maxFailuresKept) kept.pop();
    },
    snapshot: () => ({
      ...counts,
      done: counts.replayed + counts.skipped + counts.failed,
      failures: kept.map((k) => k.failure),
    }),
  };
}
type JobProgress = ReturnType<typeof jobProgress>;

/** Progress saved every second even while one send waits on a slow target; a cancel from another replica seen. */
function startHeartbeat(deps: JobRunDeps, saver: JobSaver, progress: JobProgress, controller: AbortController) {
  const heartbeat = setInterval(() => {
    void deps.state
      .getJob(saver.job.id)
      .then((saved) => {
        if (saved?.cancelRequested && !controller.signal.aborted) controller.abort(new Error('cancelled'));
        return saver.save(progress.snapshot());
      })
      .catch((err: unknown) =>
        deps.log.warn({ err, job: saver.job.id }, 'replay job: progress could not be saved; trying again in a second'),
      );
  }, deps.saveEveryMs);
  heartbeat.unref();
  return heartbeat;
}

/** One dead letter: replayed, skipped (replayed before) or failed with why; the job goes on either way. */
async function replayLetter(
  deps: JobRunDeps,
  job: JobWithIds,
  limiter: RateLimiter,
  progress: JobProgress,
  stored: StoredLetter,
  seq: number,
  signal: AbortSignal,
): Promise<void> {
  try {
    const options = { force: job.force, to: job.to, job: job.id, beforeSend: () => limiter.take() };
    const outcome = await deps.replayer.replay(stored, options);
    if (outcome.replayed) progress.counts.replayed++;
    else progress.counts.skipped++;
  } catch (err) {
    if (signal.aborted) return; // stopped while waiting for its turn: not sent, not counted
    const { id, event } = stored.letter;
    progress.fail(seq, id, event.id, err instanceof HttpError ? err.message : `unexpected error: ${describe(err)}`);
    if (!(err instanceof HttpError))
      deps.log.error({ err, deadLetter: id, job: job.id }, 'replay job: unexpected error on one dead letter; going on');
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Every page from the job's cursor, until the end or an abort; the cursor moves on once a page is all done. */
async function replayPages(deps: JobRunDeps, saver: JobSaver, progress: JobProgress, signal: AbortSignal) {
  const job = saver.job;
  const limiter = rateLimiter(job.rate, signal);
  // Sends leave on the limiter's schedule, not one after the other's answer: a target that takes 50 ms, or
  // the replay marker's fsync, does not cap the rate. A few are in flight at once (about 0.2 s worth).
  const maxInFlight = Math.max(1, Math.min(64, Math.ceil(job.rate / 5)));
  const inFlight = new Set<Promise<void>>();
  let seq = 0; // each dead letter's place in the job, for the failures' order
  for await (const page of jobPages(deps.queries, job, signal, deps.sleep)) {
    for (const id of page.missing) progress.fail(seq++, id, null, 'no such dead letter (purged?)');
    for (const stored of page.items) {
      if (signal.aborted) break;
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (signal.aborted) break;
      const running = replayLetter(deps, job, limiter, progress, stored, seq++, signal).finally(() =>
        inFlight.delete(running),
      );
      inFlight.add(running);
    }
    // The page is done when all of it is: a resume starts after it.
    await Promise.all(inFlight);
    if (signal.aborted) break;
    saver.note({ cursor: page.next });
  }
  await Promise.all(inFlight);
}

/** How the job ended when nothing threw: done, cancelled, or interrupted by SIGTERM (resumable). */
function endState(deps: JobRunDeps, job: JobWithIds, progress: JobProgress, signal: AbortSignal): Patch {
  const finishedAt = deps.now().toISOString();
  if (!signal.aborted) return { ...progress.snapshot(), state: 'done', cursor: null, finishedAt };
  const why = signal.reason instanceof Error ? signal.reason.message : 'stopped';
  if (why !== 'shutdown') return { ...progress.snapshot(), state: 'cancelled', cancelRequested: true, finishedAt };
  const { done } = progress.snapshot();
  return {
    ...progress.snapshot(),
    state: 'interrupted',
    reason: `the dlq was stopped (SIGTERM) after ${done} of ${job.total}; POST /dead-letters/replays/${job.id}/resume to go on`,
  };
}

/** The outcome of a job in the audit log, under the caller who started it (its start is audited by admin.ts). */
async function auditEnd(deps: JobRunDeps, job: JobWithIds): Promise<void> {
  const { state, total, replayed, skipped, failed, reason } = job;
  const result = { state, total, replayed, skipped, failed, ...(reason ? { reason } : {}) };
  await deps.state
    .appendAudit({
      id: deps.newId(),
      at: deps.now().toISOString(),
      action: 'replay-job-end',
      caller: job.caller,
      what: { job: job.id, to: job.to, rate: job.rate },
      result,
    })
    .catch((err: unknown) =>
      deps.log.error({ err, job: job.id }, 'replay job: its outcome could not be written to the audit log'),
    );
}

export async function runJob(deps: JobRunDeps, initial: JobWithIds, controller: AbortController): Promise<void> {
  const { signal } = controller;
  const saver = jobSaver(deps.state, deps.now, initial);
  const progress = jobProgress(initial);
  // The end: in the audit log first, then saved, so whoever sees the final state finds its audit entry.
  const finish = async (patch: Patch): Promise<void> => {
    await auditEnd(deps, { ...saver.job, ...patch });
    await saver.save(patch);
  };
  const heartbeat = startHeartbeat(deps, saver, progress, controller);
  try {
    if (saver.job.total === null) {
      const total = await countJob(deps.queries, saver.job, signal, deps.sleep);
      await saver.save({ total, state: 'running' });
    }
    await replayPages(deps, saver, progress, signal);
    await finish(endState(deps, saver.job, progress, signal));
    const { id, state } = saver.job;
    deps.log.info({ job: id, state, ...progress.counts }, 'replay job finished');
  } catch (err) {
    const aborted = signal.aborted;
    const reason = aborted ? 'stopped' : err instanceof HttpError ? err.message : `unexpected error: ${describe(err)}`;
    deps.log.error({ err, job: saver.job.id }, 'replay job stopped: the dead letters could not be read');
    const finishedAt = deps.now().toISOString();
    await finish({ ...progress.snapshot(), state: aborted ? 'interrupted' : 'failed', reason, finishedAt }).catch(
      (saveErr: unknown) =>
        deps.log.error({ err: saveErr, job: saver.job.id }, 'replay job: its final state could not be saved'),
    );
  } finally {
    clearInterval(heartbeat);
  }
}
