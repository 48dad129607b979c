// Runs one Knative Service as a child process of the bundled runtime, the way Knative runs its container:
// exactly the env from the manifest (plus what Knative injects), restarted with backoff if it exits while
// the runner is up, and drained on stop (SIGTERM, then SIGKILL after the grace period).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ComponentLog } from './log.js';

export type Spawn = (
  command: string,
  args: readonly string[],
  options: { env: Record<string, string>; cwd: string },
) => ChildProcess;

export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A child that ran this long counts as healthy: the next crash starts the backoff again. */
  readonly healthyAfterMs: number;
}

export const defaultRestartPolicy: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, healthyAfterMs: 10_000 };

/** Delay before restart number `n` (1-based) of a run of consecutive crashes. */
export function restartDelayMs(policy: RestartPolicy, n: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (n - 1));
}

export interface SupervisorOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly spawn: Spawn;
  readonly log: ComponentLog;
  readonly policy?: RestartPolicy;
  readonly now?: () => number;
}

export interface Supervised {
  /** The running child's pid, if any. */
  pid(): number | undefined;
  readonly restarts: () => number;
  /** SIGTERM, wait up to graceMs for the exit, then SIGKILL. Resolves when the child is gone. */
  stop(graceMs: number): Promise<void>;
  /** Immediately SIGKILL (second Ctrl-C). */
  kill(): void;
}

/** The child's stdout and stderr, one log line per line. */
function forwardOutput(c: ChildProcess, log: SupervisorOptions['log']): void {
  for (const [stream, name] of [
    [c.stdout, 'stdout'],
    [c.stderr, 'stderr'],
  ] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => log.child(line, name));
  }
}

/** Resolves when the child has closed or could not start; `onClose` is told how it ended. */
function whenClosed(c: ChildProcess, log: SupervisorOptions['log'], onClose: (how: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    c.once('error', (err) => {
      log.error(`could not start: ${err.message}`);
      resolve();
    });
    // 'close', not 'exit': it comes after the child's stdout and stderr have ended, so its last log lines
    // (the "draining" and "stopped" of a SIGTERM) are read before the runner moves on or exits.
    c.once('close', (code, signal) => {
      resolve();
      onClose(signal ?? `code ${code}`);
    });
  });
}

/** SIGTERM, then SIGKILL once the grace period is over; resolves when the child has exited. */
async function terminate(
  c: ChildProcess,
  exited: Promise<void>,
  graceMs: number,
  log: SupervisorOptions['log'],
): Promise<void> {
  c.kill('SIGTERM');
  const killer = setTimeout(() => {
    log.warn(`did not stop within ${graceMs} ms; killing it`);
    c.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(killer);
}

export function supervise(options: SupervisorOptions): Supervised {
  const policy = options.policy ?? defaultRestartPolicy;
  const now = options.now ?? Date.now;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let crashes = 0;
  let restarts = 0;
  let timer: NodeJS.Timeout | undefined;

  /** After an exit that was not asked for: a restart after a backoff that grows with quick crashes. */
  const restartLater = (startedAt: number, how: string) => {
    crashes = now() - startedAt >= policy.healthyAfterMs ? 1 : crashes + 1;
    const delay = restartDelayMs(policy, crashes);
    options.log.error(`exited unexpectedly (${how}); restarting in ${(delay / 1000).toFixed(1)} s`);
    timer = setTimeout(() => {
      timer = undefined;
      if (stopping) return;
      restarts++;
      start();
    }, delay);
  };

  const start = () => {
    const startedAt = now();
    const c = options.spawn(options.command, options.args, { env: options.env, cwd: options.cwd });
    child = c;
    forwardOutput(c, options.log);
    exited = whenClosed(c, options.log, (how) => {
      if (child === c) child = undefined;
      if (stopping) options.log.debug(`exited (${how})`);
      else restartLater(startedAt, how);
    });
  };
  start();

  return {
    pid: () => child?.pid,
    restarts: () => restarts,
    async stop(graceMs) {
      stopping = true;
      clearTimeout(timer);
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) await terminate(c, exited, graceMs, options.log);
    },
    kill() {
      stopping = true;
      clearTimeout(timer);
      child?.kill('SIGKILL');
    },
  };
}

/** Polls GET <url>readyz until it answers 200, the deadline passes, or `gone()` says the child died. */
export async function waitReady(
  url: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return false;
}
