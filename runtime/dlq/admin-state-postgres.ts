// The admin state (replay jobs, audit log) of DLQ_STORE=postgres, in the tables of schema step 2
// (postgres-schema.ts), so that every replica sees every job and every audit entry. Its own small pool:
// the store's pool stays for dead letters arriving. Loaded only with the PostgreSQL store.
import type { Pool } from 'pg';
import type { PostgresStoreConfig } from '../config/dlq.js';
import { HttpError } from '../http/errors.js';
import type { AdminState, AuditEntry, AuditPage, ReplayJob } from './admin-state.js';
import { tables } from './postgres-schema.js';

/** Its own pool, small: the admin API is a person or a script, not the stream of dead letters. */
async function ownPool(config: PostgresStoreConfig): Promise<Pool> {
  const pg = await import('pg');
  const PoolClass = (pg.default ?? pg).Pool;
  const pool = new PoolClass({
    connectionString: config.url,
    max: 2,
    connectionTimeoutMillis: config.timeoutMs,
    query_timeout: config.timeoutMs,
    statement_timeout: config.timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'knative-events-dlq-admin',
  });
  pool.on('error', () => undefined); // a broken idle connection: the next query reconnects
  return pool;
}

/** Any failure is "try again" (503), never a 500 with the database's internals. */
async function use<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new HttpError(503, 'store_failed', 'the dead-letter database could not complete the request; try again', {
      cause: err,
    });
  }
}

/** The audit log, newest first: keyset paging on its sequence number. */
async function listAudit(db: Pool, audit: string, limit: number, cursor: string | undefined): Promise<AuditPage> {
  const params: unknown[] = [limit + 1];
  let where = '';
  if (cursor !== undefined) {
    params.push(cursor);
    where = 'WHERE seq < $2';
  }
  const { rows } = await use(() =>
    db.query<{ seq: string; entry: string }>(
      `SELECT seq, entry FROM ${audit} ${where} ORDER BY seq DESC LIMIT $1`,
      params,
    ),
  );
  const page = rows.slice(0, limit);
  return {
    items: page.map((row) => JSON.parse(row.entry) as AuditEntry),
    nextCursor: rows.length > limit ? (page.at(-1)?.seq ?? null) : null,
  };
}

export async function openPostgresAdminState(config: PostgresStoreConfig, pool?: Pool): Promise<AdminState> {
  const { jobs, audit } = tables(config.schema);
  const db = pool ?? (await ownPool(config));
  /** Ended on close only when it is ours. */
  const own = db === pool ? undefined : db;
  return {
    async appendAudit(entry: AuditEntry) {
      await use(() => db.query(`INSERT INTO ${audit} (at, entry) VALUES ($1, $2)`, [entry.at, JSON.stringify(entry)]));
    },
    listAudit: (limit, cursor) => listAudit(db, audit, limit, cursor),
    validAuditCursor: (cursor) => /^\d{1,18}$/.test(cursor),
    async saveJob(job: ReplayJob) {
      await use(() =>
        db.query(
          `INSERT INTO ${jobs} (id, created_at, job) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET job = EXCLUDED.job`,
          [job.id, job.createdAt, JSON.stringify(job)],
        ),
      );
    },
    async getJob(id) {
      const { rows } = await use(() => db.query<{ job: string }>(`SELECT job FROM ${jobs} WHERE id = $1`, [id]));
      return rows[0] ? (JSON.parse(rows[0].job) as ReplayJob) : undefined;
    },
    async listJobs(limit) {
      const { rows } = await use(() =>
        db.query<{ job: string }>(`SELECT job FROM ${jobs} ORDER BY created_at DESC LIMIT $1`, [limit]),
      );
      return rows.map((row) => JSON.parse(row.job) as ReplayJob);
    },
    async close() {
      await own?.end();
    },
  };
}
