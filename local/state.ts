// The state file the runner writes once everything is up (<outDir>/state.json, git-ignored under
// .local-run/) and removes when it stops: how `npm run send`, `npm run dlq`, `npm run trace` and tests find the
// running pipeline.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface RunState {
  readonly pid: number;
  readonly startedAt: string;
  readonly outDir: string;
  /** The first handler's URL: where `npm run send` posts. */
  readonly handlerUrl: string | undefined;
  readonly brokers: readonly string[];
  readonly services: ReadonlyArray<{
    short: string;
    name: string;
    role: string;
    function: string | undefined;
    url: string;
    pid: number | undefined;
  }>;
  readonly sinks: ReadonlyArray<{ name: string; topic: string; url: string; file: string }>;
  /** Files the dlq services store dead letters in (DLQ_STORE=file). */
  readonly dlqFiles: readonly string[];
  /** Each dlq's admin API (/dead-letters) and its bearer token (generated for the run, or from the secrets file). */
  readonly dlqAdmin?: ReadonlyArray<{ short: string; url: string; token: string | undefined }>;
  /** The trace store every service exports its spans to (local/traces.ts), for `npm run trace`. */
  readonly traces?: string;
}

export function writeState(file: string, state: RunState): void {
  // 0600: it holds the dlq admin tokens.
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export function readState(file: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}

/** True when a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
