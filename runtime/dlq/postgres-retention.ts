// DLQ_RETENTION_DAYS: dead letters received before the cutoff are deleted in batches of a bounded size, each
// its own short transaction, so retention never holds locks on the table for long or fills the WAL in one go.
// Replicas may run it at the same time: SKIP LOCKED makes them take different rows instead of waiting.
import type { Pool } from 'pg';

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
