// Dead letters in PostgreSQL (DLQ_STORE=postgres): every replica writes to one table and every replica's
// admin API sees all of it. `append` resolves after the INSERT has committed (autocommit, synchronous_commit
// as the server has it: on by default). A repeated delivery of a dead letter that is stored and not replayed
// yet (same event source, id and knativeerrordest) is not stored again: its stored id is returned.
//
// Failures: while the database is unreachable or too slow (DLQ_DATABASE_TIMEOUT_MS), requests are answered
// 503 at once (Knative keeps the event and retries), notReady() says why (/readyz 503), and a probe checks
// again with backoff; the store recovers on its own, no restart needed.
//
// This module and the driver are imported only when this store is chosen (roles/dlq.ts). Its parts:
// postgres-availability.ts (the 503s, readiness and the probe), postgres-queries.ts (the statements),
// postgres-retention.ts (DLQ_RETENTION_DAYS) and postgres-schema.ts (the tables).
import type { Pool } from 'pg';
import type { PostgresStoreConfig } from '../config/dlq.js';
import type { Logger } from '../logger.js';
import { DatabaseAvailability, describe } from './postgres-availability.js';
import { postgresAppend, postgresQueries, type Use } from './postgres-queries.js';
import { retentionSchedule } from './postgres-retention.js';
import { tables } from './postgres-schema.js';
import type { DeadLetterStore } from './store.js';

export interface PostgresStoreOptions {
  readonly config: PostgresStoreConfig;
  readonly log: Logger;
  readonly now: () => Date;
  /** How often retention runs (tests: shorter). */
  readonly retentionIntervalMs?: number;
  readonly retentionBatch?: number;
  /** The pool to use instead of one made from config.url (tests). */
  readonly pool?: Pool;
}

async function createPool(config: PostgresStoreConfig): Promise<Pool> {
  const pg = await import('pg');
  const Pool = (pg.default ?? pg).Pool;
  return new Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.timeoutMs,
    query_timeout: config.timeoutMs,
    statement_timeout: config.timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'knative-events-dlq',
  });
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<DeadLetterStore> {
  const { config, log, now } = options;
  const { letters } = tables(config.schema);
  const pool = options.pool ?? (await createPool(config));
  const days = config.retentionDays;
  const retention =
    days === undefined
      ? undefined
      : retentionSchedule({
          pool,
          table: letters,
          days,
          now,
          log,
          describe,
          batch: options.retentionBatch ?? 1000,
          intervalMs: options.retentionIntervalMs ?? 3_600_000,
        });
  const availability = new DatabaseAvailability({
    pool,
    schema: config.schema,
    letters,
    log,
    onReachable: () => retention?.start(),
  });
  const use: Use = (run) => availability.use(run);
  await availability.start();
  return {
    kind: 'postgres',
    query: postgresQueries(pool, letters, use),
    append: postgresAppend(pool, letters, use),
    size: () => undefined,
    notReady: () => availability.notReady(),
    async close() {
      availability.close();
      await retention?.stop();
      await pool.end();
    },
  };
}
