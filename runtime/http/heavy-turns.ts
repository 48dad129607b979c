// Paces the synchronous work large bodies cause. Once its body is read, a request parses, validates and
// serialises it without yielding: 1 MiB of small JSON objects is 20-250 ms of JSON.parse alone (a quiet and a
// busy 2-core machine), and several finishing at once kept /healthz waiting for seconds. Large bodies go
// one at a time, and after each the loop is left free for as long as that one took (its time, measured up
// to the next turn of the loop), so probes and small requests are answered between two: the large-body work
// gets at most about half of the loop's time while others wait, and runs at once when alone. Work that can
// be cut into slices (validating a large body) goes through the slice queue below instead.

/** Bodies from this size on are paced; smaller ones cost too little to matter. */
export const heavyBodyBytes = 64 * 1024;
/** Longest pause between two large bodies, whatever the last one took. */
const maxPauseMs = 1000;

export type TakeTurn = () => Promise<void>;

export function createHeavyTurns(): TakeTurn {
  const waiting: Array<() => void> = [];
  let running = false;
  const next = () => {
    const go = waiting.shift();
    if (!go) {
      running = false;
      return;
    }
    const started = performance.now();
    // Its work runs in the microtasks right after this callback; setImmediate fires on the next turn, after it.
    go();
    setImmediate(() => setTimeout(next, Math.min(maxPauseMs, performance.now() - started)));
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!running) {
        running = true;
        next();
      }
    });
}

/** The process's pacing: one queue for every request, whatever the role. */
export const takeHeavyTurn = createHeavyTurns();

/** Time queued slices may take in one turn of the event loop before the loop gets on with the rest. */
export const sliceTurnMs = 4;

/** One piece of a long job, a fraction of a millisecond; true once the job is done. */
export type Slice = () => boolean;

/** Runs a job slice by slice in its turns (createSliceQueue); resolves when a slice says it is done. */
export type RunInSlices = (slice: Slice) => Promise<void>;

/**
 * Long jobs (validating large bodies) run slice by slice, for at most `turnMs` per turn of the event loop,
 * so a probe or a small request waits for one turn at most, whatever the number of jobs: each job yielding
 * on its own (a setImmediate per slice) let 70 bodies in validation take a slice each in the same turn.
 * One job at a time, in arrival order, rather than round robin: the jobs finish spread out, and so does the
 * work each one's end starts (forwarding the event). At least one slice per turn, however slow.
 */
export function createSliceQueue(turnMs = sliceTurnMs, clock: () => number = () => performance.now()): RunInSlices {
  const jobs: Array<{ slice: Slice; resolve: () => void; reject: (err: unknown) => void }> = [];
  let scheduled = false;
  const turn = () => {
    const until = clock() + turnMs;
    do {
      const job = jobs[0] as (typeof jobs)[number];
      try {
        if (!job.slice()) continue;
        job.resolve();
      } catch (err) {
        job.reject(err);
      }
      jobs.shift();
    } while (jobs.length > 0 && clock() < until);
    scheduled = false;
    if (jobs.length > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(turn);
  };
  return (slice) =>
    new Promise<void>((resolve, reject) => {
      jobs.push({ slice, resolve, reject });
      schedule();
    });
}

/** The process's queue: one for every large body, whatever the role. */
export const runInSlices = createSliceQueue();

/** Body bytes all requests together may take in from their sockets in one turn of the event loop. */
export const intakeBytesPerTurn = 512 * 1024;
/** What a reader brings when resumed before it can pause again: about one socket read. */
const readBytes = 64 * 1024;

export interface Intake {
  /** Counts `bytes` just taken in; false once the turn's allowance is spent: the reader pauses and waits. */
  take(bytes: number): boolean;
  /** Calls `resume` in a later turn, after the readers that waited before it, as the allowance allows. */
  wait(resume: () => void): void;
}

/**
 * Paces reading request bodies: the sockets of 70 admitted requests with 1 MiB each were read in the same
 * turns, and each read fills fresh memory (≈15 ms per MiB on a sandboxed machine), so the turns of the
 * opening burst lasted 60-100 ms. Past the turn's allowance a reader pauses (its socket stops being read)
 * and is resumed in a later turn, in order, as many per turn as the allowance covers.
 */
export function createIntake(bytesPerTurn = intakeBytesPerTurn): Intake {
  let used = 0;
  let scheduled = false;
  const waiting: Array<() => void> = [];
  const turn = () => {
    scheduled = false;
    used = 0;
    for (let room = bytesPerTurn; room > 0 && waiting.length > 0; room -= readBytes) (waiting.shift() as () => void)();
    if (waiting.length > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(turn);
  };
  return {
    take(bytes) {
      used += bytes;
      schedule();
      return used <= bytesPerTurn;
    },
    wait(resume) {
      waiting.push(resume);
      schedule();
    },
  };
}

/** The process's intake: one allowance for every request body, whatever the role. */
export const bodyIntake = createIntake();

/** Time request starts may take in one turn of the event loop, what they cause at once included. */
export const requestTurnMs = 4;
/** Most requests started in one turn: one immediate each, scheduled together. */
const requestsPerTurn = 32;

export interface RequestGate {
  /** Calls `start` in this turn or a later one, in arrival order, as the turn's time allows. */
  enter(start: () => void): void;
  /** Requests waiting for their turn; resolves at once when there are none. */
  settled(): Promise<void>;
}

/**
 * Paces the start of requests. Node's HTTP server runs every request that arrived since the last turn in
 * one go: after a 503 with `Retry-After: 1`, refused callers come back together, and 170 requests started
 * (routed, refused or admitted, answered, logged) in one turn held the loop for 60-200 ms of CPU. Here each
 * start is one immediate, and the immediates of a turn stop starting requests once `turnMs` has passed since
 * the first: Node runs the microtasks a start causes between two immediates, so the time counted is all of
 * what a start does at once (an answer written, a line logged), not only its synchronous part. The others
 * wait for the next turn, after the loop has polled for I/O (health probes, which never enter the gate).
 */
export function createRequestGate(turnMs = requestTurnMs, clock: () => number = () => performance.now()): RequestGate {
  const waiting: Array<() => void> = [];
  const settledWaiters: Array<() => void> = [];
  let slots = 0;
  let turnStarted: number | undefined;
  let startedThisTurn = 0;
  const slot = () => {
    slots--;
    if (turnStarted === undefined) {
      turnStarted = clock();
      startedThisTurn = 0;
    }
    // At least one start per turn, however slow the last one was.
    const start = startedThisTurn === 0 || clock() - turnStarted < turnMs ? waiting.shift() : undefined;
    if (slots === 0) {
      turnStarted = undefined;
      if (waiting.length > 0) fill();
      else for (const resolve of settledWaiters.splice(0)) resolve();
    }
    if (start === undefined) return;
    startedThisTurn++;
    start();
  };
  // Immediates scheduled while a turn's immediates run belong to the next turn (Node's check phase).
  const fill = () => {
    while (slots < Math.min(requestsPerTurn, waiting.length)) {
      slots++;
      setImmediate(slot);
    }
  };
  return {
    enter(start) {
      waiting.push(start);
      fill();
    },
    settled: () =>
      waiting.length === 0 ? Promise.resolve() : new Promise<void>((resolve) => settledWaiters.push(resolve)),
  };
}

/** The process's gate: one for every server, whatever the role. */
export const requestGate = createRequestGate();
