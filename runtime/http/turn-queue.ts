// One scheduler for the work that requests cause and that can wait for a later turn of the event loop:
// starting a request (routing it, refusing or admitting it, answering, logging) and the slices of long jobs
// (copying a large body together, validating it as JSON). Whatever arrives, a turn of the loop gives this
// work at most `turnMs`, after which the loop polls for I/O again: health probes (which never enter the
// queue, server.ts) are answered between two turns, not after a burst.
//
// Each unit (a request's start, one slice) runs in its own immediate, and Node runs the microtasks a unit
// causes before the next immediate: the time counted is everything the unit does at once (a 503 answered
// and logged in its promise callbacks), not only its synchronous part. Without the queue, refused callers
// retrying together after `Retry-After: 1` started 170 requests in one turn: 60-210 ms of CPU with no probe
// answered; and a slice queue and a request gate of their own each took their time of the same turn.
//
// A turn in which the server accepted a connection runs one unit only (accepted-connections.ts): libuv accepts
// one connection per turn, and a probe's connection waits behind the others, a turn each.
import { acceptedConnections } from './accepted-connections.js';

/** Time the queue's work may take in one turn of the event loop. */
export const turnMs = 4;
/** Immediates scheduled per turn at most: the most units one turn can run. */
const slotsPerTurn = 32;

/** One piece of a long job, a fraction of a millisecond; true once the job is done. */
export type Slice = () => boolean;

/** Runs a job slice by slice in its turns; resolves when a slice says it is done. */
export type RunInSlices = (slice: Slice) => Promise<void>;

export interface TurnQueue {
  /** A long job, slice by slice, one job at a time in arrival order (the jobs finish spread out). */
  readonly run: RunInSlices;
  /** Calls `start(a, b)` once, in its turn, in arrival order with the jobs (a request's start: the listener and
   * its request and response, so that no closure is made per request). */
  enter<A, B>(start: (a: A, b: B) => void, a?: A, b?: B): void;
  /** Resolves once nothing waits in the queue (at once when nothing does). */
  settled(): Promise<void>;
}

interface Job {
  /** A sliced job's next slice (run), or a request's start (enter), called once: no wrapper closure per
   * request (the bundle names each closure it creates, ≈4,000 instructions). */
  readonly slice: Slice | ((a: unknown, b: unknown) => void);
  readonly sliced: boolean;
  /** A request's start's arguments. */
  readonly a?: unknown;
  readonly b?: unknown;
  /** A sliced job's promise (run); a request's start (enter) has none. */
  readonly resolve?: () => void;
  readonly reject?: (err: unknown) => void;
}

/** The head job's next slice; the job leaves the queue when done or failed. True when a sliced job left. */
function runSlice(jobs: Job[]): boolean {
  const job = jobs[0] as Job;
  let done: boolean;
  try {
    done = job.sliced ? (job.slice as Slice)() : (job.slice(job.a, job.b), true);
  } catch (err) {
    jobs.shift();
    // A request's start has nobody to tell: it fails as a request listener that throws does.
    if (job.reject === undefined) throw err;
    job.reject(err);
    return true;
  }
  if (!done) return false;
  jobs.shift();
  job.resolve?.();
  return job.sliced;
}

export function createTurnQueue(
  budgetMs = turnMs,
  clock: () => number = () => performance.now(),
  connectionsArrived: () => boolean = acceptedConnections.watcher(),
): TurnQueue {
  const jobs: Job[] = [];
  const settledWaiters: Array<() => void> = [];
  let slots = 0;
  let inTurn = false;
  // When the current turn's time is up; a turn that accepted a connection gets none past its one unit.
  let turnEnds = 0;
  let ranThisTurn = 0;
  // Sliced jobs waiting: counted, not searched for, since the queue can hold a thousand request starts.
  let slicedJobs = 0;
  // A sliced job may use every slot of a turn; request starts one each: no idle immediates for a few.
  const wanted = () => (slicedJobs > 0 ? slotsPerTurn : Math.min(slotsPerTurn, jobs.length));
  const schedule = () => {
    // Slots scheduled while a turn's slots run would belong to the next turn (Node's check phase): the
    // turn's last slot schedules those.
    if (inTurn) return;
    for (const more = wanted(); slots < more; slots++) setImmediate(slot);
  };
  const endOfTurn = () => {
    inTurn = false;
    if (jobs.length > 0) schedule();
    else for (const resolve of settledWaiters.splice(0)) resolve();
  };
  const slot = () => {
    slots--;
    if (!inTurn) {
      inTurn = true;
      turnEnds = clock() + (connectionsArrived() ? 0 : budgetMs);
      ranThisTurn = 0;
    }
    // At least one unit per turn, however slow the last one was.
    const runs = jobs.length > 0 && (ranThisTurn === 0 || clock() < turnEnds);
    try {
      if (runs) {
        ranThisTurn++;
        if (runSlice(jobs)) slicedJobs--;
      }
    } finally {
      if (slots === 0) endOfTurn();
    }
  };
  return {
    run: (slice) =>
      new Promise<void>((resolve, reject) => {
        slicedJobs++;
        jobs.push({ slice, sliced: true, resolve, reject });
        schedule();
      }),
    enter(start, a, b) {
      jobs.push({ slice: start as (a: unknown, b: unknown) => void, sliced: false, a, b });
      schedule();
    },
    settled: () =>
      jobs.length === 0 ? Promise.resolve() : new Promise<void>((resolve) => settledWaiters.push(resolve)),
  };
}

/** The process's queue: one for every request and every large body, whatever the role. */
export const turnQueue = createTurnQueue();
