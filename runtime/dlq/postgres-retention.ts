// DLQ_RETENTION_DAYS: dead letters received before the cutoff are deleted in batches of a bounded size, each
// its own short transaction, so retention never holds locks on the table for long or fills the WAL in one go.
// Replicas may run it at the same time: SKIP LOCKED makes them take different rows instead of waiting.
import type { Pool } from 'pg';
import type { Logger } from '../logger.js';

export async function deleteExpired(
  pool: Pool,
  table: string,
  cutoff: Date,
  batch: number,
): Promise<{ deleted: number; batches: number }> {
  let deleted = 0;
  let batches = 0;
  for (;;) {
    const result = await pool.query(
      `DELETE FROM ${table} WHERE seq IN (SELECT seq FROM ${table} WHERE received_at < $1 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [cutoff.toISOString(), batch],
    );
    const count = result.rowCount ?? 0;
    deleted += count;
    if (count > 0) batches++;
    if (count < batch) return { deleted, batches };
    // Let requests in between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface RetentionOptions {
  readonly pool: Pool;
  readonly table: string;
  readonly days: number;
  readonly now: () => Date;
  readonly log: Logger;
  readonly batch: number;
  readonly intervalMs: number;
  /** How a database error is logged (never the URL or the password). */
  readonly describe: (err: unknown) => string;
}

/**
 * Runs deleteExpired now and then every intervalMs, once the database is reachable (`start` may be called on
 * every recovery: it starts the timer once). A run still going when the next is due is not started twice.
 */
export function retentionSchedule(options: RetentionOptions) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    running ??= (async () => {
      const cutoff = new Date(options.now().getTime() - options.days * 86_400_000);
      try {
        const { deleted, batches } = await deleteExpired(options.pool, options.table, cutoff, options.batch);
        if (deleted > 0)
          options.log.info(
            { deleted, batches, olderThan: cutoff.toISOString() },
            'dead-letter retention: deleted old dead letters',
          );
      } catch (err) {
        options.log.warn({ error: options.describe(err) }, 'dead-letter retention failed; it runs again later');
      } finally {
        running = undefined;
      }
    })();
  };
  return {
    start(): void {
      if (timer || stopped) return;
      run();
      timer = setInterval(run, options.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
