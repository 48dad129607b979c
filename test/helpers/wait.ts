// The one way a test waits for something: poll a condition until it holds or a deadline passes. Every wait in the
// tests has a deadline, so a regression fails with what was awaited instead of hanging the suite.

export interface WaitOptions {
  /** What is awaited, for the failure message ("the dead letter", "the broker's delivery line"). */
  what?: string;
  /** Pause between two checks (ms). */
  intervalMs?: number;
  /** Extra context for the failure message, read once when the deadline passes (e.g. the process output so far). */
  context?: () => unknown;
  /**
   * 'retry' (default): a check that throws counts as "not yet" (a server still starting refuses connections).
   * 'throw': the error fails the wait at once (a check that sees the process under test has exited).
   */
  errors?: 'retry' | 'throw';
}

/**
 * Calls `condition` until it returns a value other than undefined, null or false, and returns that value. A check
 * that throws counts as "not yet" unless `errors: 'throw'`; the last error is in the failure message. Fails once
 * `deadlineMs` have passed since the call.
 */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  deadlineMs: number,
  options: WaitOptions = {},
): Promise<T> {
  const { what = 'the condition', intervalMs = 25, context, errors = 'retry' } = options;
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (errors === 'throw') throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why =
        lastError === undefined
          ? ''
          : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      const seen = context ? `; ${show(context())}` : '';
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${why}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(intervalMs, deadline - Date.now()))));
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
