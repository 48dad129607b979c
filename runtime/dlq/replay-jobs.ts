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
//
// This module keeps the jobs (start, cancel, resume, how a job looks from any replica); running one is
// replay-job-run.ts, reading its dead letters replay-job-pages.ts.
import { randomUUID } from 'node:crypto';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import type { AdminState, Caller, ReplayJob } from './admin-state.js';
import type { Replayer } from './replay.js';
import type { JobWithIds } from './replay-job-pages.js';
import { realClock } from '../clock.js';
import { runJob, type JobRunDeps } from './replay-job-run.js';
import type { DeadLetterQueries, LetterFilter } from './store.js';

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
  /** Waits between tries at a page while the database restarts; the real clock's unless a test passes one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The jobs this process runs, by id. */
type Running = Map<string, { controller: AbortController; done: Promise<void> }>;

function newJob(spec: JobSpec, id: string, owner: string, at: string): JobWithIds {
  return {
    id,
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
}

/** A running job nobody runs any more is shown as interrupted. */
function viewJob(options: JobRunnerOptions, owner: string, running: Running, job: JobWithIds): JobWithIds {
  if ((job.state !== 'running' && job.state !== 'counting') || running.has(job.id)) return job;
  const stale =
    options.storeKind === 'file'
      ? job.owner !== owner
      : options.now().getTime() - Date.parse(job.heartbeatAt) > (options.staleMs ?? 15_000);
  if (!stale) return job;
  return {
    ...job,
    state: 'interrupted',
    reason: `the dlq process running it stopped (restart or crash) after ${job.done} of ${job.total ?? '?'}; POST /dead-letters/replays/${job.id}/resume to go on`,
  };
}

/** Cancel: here at once; run by another replica, at its next save; interrupted, marked cancelled. */
async function cancelJob(options: JobRunnerOptions, running: Running, job: JobWithIds): Promise<ReplayJob> {
  const { state, now } = options;
  const local = running.get(job.id);
  if (local) {
    local.controller.abort(new Error('cancelled'));
    await local.done;
    return (await state.getJob(job.id)) ?? job;
  }
  if (job.state === 'running' || job.state === 'counting') {
    const asked = { ...job, cancelRequested: true, updatedAt: now().toISOString() };
    await state.saveJob(asked);
    return asked;
  }
  if (job.state !== 'interrupted')
    throw new HttpError(409, 'conflict', `replay job ${job.id} is ${job.state}: there is nothing to cancel`);
  const at = now().toISOString();
  const cancelled: JobWithIds = { ...job, state: 'cancelled', cancelRequested: true, finishedAt: at, updatedAt: at };
  await state.saveJob(cancelled);
  return cancelled;
}

/** An interrupted or failed job, owned by this process from now on, going on from its saved cursor. */
function resumedJob(job: JobWithIds, owner: string, at: string): JobWithIds {
  if (job.state !== 'interrupted' && job.state !== 'failed')
    throw new HttpError(
      409,
      'conflict',
      `replay job ${job.id} is ${job.state}: only an interrupted or failed job can be resumed`,
    );
  const state = job.total === null ? 'counting' : 'running';
  return { ...job, owner, state, heartbeatAt: at, updatedAt: at, reason: undefined, finishedAt: undefined };
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { state, replayer, now, newId } = options;
  const owner = randomUUID();
  const running: Running = new Map();
  const deps: JobRunDeps = {
    ...options,
    saveEveryMs: options.saveEveryMs ?? 1000,
    sleep: options.sleep ?? ((ms) => realClock.sleep(ms)),
  };
  const view = (job: JobWithIds) => viewJob(options, owner, running, job);

  async function launch(job: JobWithIds): Promise<JobWithIds> {
    await state.saveJob(job);
    const controller = new AbortController();
    const done = runJob(deps, job, controller).finally(() => running.delete(job.id));
    running.set(job.id, { controller, done });
    return job;
  }

  async function find(id: string): Promise<JobWithIds> {
    const job = await state.getJob(id);
    if (!job) throw new HttpError(404, 'not_found', `no replay job with id ${JSON.stringify(id)}`);
    return view(job);
  }

  return {
    async start(spec) {
      replayer.targets.check(spec.to === 'destination' ? undefined : spec.to);
      return await launch(newJob(spec, newId(), owner, now().toISOString()));
    },
    get: async (id) => {
      const job = await state.getJob(id);
      return job && view(job);
    },
    list: async (limit) => (await state.listJobs(limit)).map(view),
    cancel: async (id) => cancelJob(options, running, await find(id)),
    resume: async (id) => launch(resumedJob(await find(id), owner, now().toISOString())),
    async close() {
      const all = [...running.values()];
      for (const job of all) job.controller.abort(new Error('shutdown'));
      await Promise.all(all.map((job) => job.done));
    },
  };
}
