// Dead letters in PostgreSQL (DLQ_STORE=postgres): every replica writes to one table and every replica's
// admin API sees all of it. `append` resolves after the INSERT has committed (autocommit, synchronous_commit
// as the server has it: on by default). A repeated delivery of a dead letter that is stored and not replayed
// yet (same event source, id and knativeerrordest) is not stored again: its stored id is returned.
//
// Failures: while the database is unreachable or too slow (DLQ_DATABASE_TIMEOUT_MS), requests are answered
// 503 at once (Knative keeps the event and retries), notReady() says why (/readyz 503), and a probe checks
// again with backoff; the store recovers on its own, no restart needed.
//
// This module and the driver are imported only when this store is chosen (roles/dlq.ts).
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { PostgresStoreConfig } from '../config/dlq.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { migrate, tables } from './postgres-schema.js';
import { deleteExpired } from './postgres-retention.js';
import { duplicateKey, type DeadLetter, type ReplayMarker } from './record.js';
import type {
  AppendResult,
  DeadLetterQueries,
  DeadLetterStore,
  LetterFilter,
  Page,
  PageRequest,
  StoredLetter,
} from './store.js';
import { letterMatches } from './store.js';

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

/** Indexed columns keep a prefix: a btree entry has a size limit, and a 1 MB `source` must not make a 5xx. */
const indexedChars = 500;
const probeStartMs = 250;
const probeMaxMs = 2000;

/** NUL cannot be stored in a text column; it is the only character PostgreSQL refuses. */
function indexed(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return String(value).replaceAll('\u0000', '\ufffd').slice(0, indexedChars);
}

function hashKey(key: string | undefined): string | null {
  return key === undefined ? null : createHash('sha256').update(key).digest('hex');
}

/** Network errors, timeouts, a server shutting down or out of connections: "the database is not there". */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '57014';
}

/** Never the URL or the password; pg's messages name the host, the user or the cause. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return `${typeof e.message === 'string' ? e.message : String(err)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`;
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
  let schemaReady = false;
  let down: string | undefined = 'starting: checking the dead_letters table';
  let closed = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  let retentionRunning: Promise<void> | undefined;

  // An idle connection that breaks (the server restarts) is reported here; unhandled, it would end the process.
  pool.on('error', (err) => markDown(err));

  function markDown(err: unknown): void {
    const reason = describe(err);
    if (down === undefined)
      log.error(
        { error: reason, store: 'postgres' },
        'dead-letter database unavailable: answering 503 until it is back',
      );
    down = reason;
    scheduleProbe(probeStartMs);
  }

  function scheduleProbe(delayMs: number): void {
    if (closed || probeTimer) return;
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      void probe(delayMs);
    }, delayMs);
    probeTimer.unref();
  }

  async function ensureSchema(): Promise<void> {
    const client: PoolClient = await pool.connect();
    try {
      const applied = await migrate(client, config.schema);
      if (applied > 0)
        log.info({ schema: config.schema, steps: applied }, 'dead-letter database: schema created or migrated');
    } finally {
      client.release();
    }
    schemaReady = true;
  }

  async function probe(lastDelayMs: number): Promise<void> {
    try {
      if (!schemaReady) await ensureSchema();
      // The table, not just the server: a lock held on it (a long migration, a VACUUM FULL) is "too slow" too.
      else await pool.query(`SELECT seq FROM ${letters} LIMIT 1`);
      if (down !== undefined)
        log.info({ store: 'postgres' }, 'dead-letter database reachable: taking dead letters again');
      down = undefined;
      startRetention();
    } catch (err) {
      if (down === undefined || describe(err) !== down)
        log.error({ error: describe(err), store: 'postgres' }, 'dead-letter database still unavailable');
      down = describe(err);
      scheduleProbe(Math.min(lastDelayMs * 2, probeMaxMs));
    }
  }

  function startRetention(): void {
    if (config.retentionDays === undefined || retentionTimer || closed) return;
    const run = () => {
      retentionRunning ??= (async () => {
        const cutoff = new Date(now().getTime() - (config.retentionDays as number) * 86_400_000);
        try {
          const { deleted, batches } = await deleteExpired(pool, letters, cutoff, options.retentionBatch ?? 1000);
          if (deleted > 0)
            log.info(
              { deleted, batches, olderThan: cutoff.toISOString() },
              'dead-letter retention: deleted old dead letters',
            );
        } catch (err) {
          log.warn({ error: describe(err) }, 'dead-letter retention failed; it runs again later');
        } finally {
          retentionRunning = undefined;
        }
      })();
    };
    run();
    retentionTimer = setInterval(run, options.retentionIntervalMs ?? 3_600_000);
    retentionTimer.unref();
  }

  /** Runs a statement; a failure that means "database not there" turns readiness off. Always 503 to callers. */
  async function use<T>(run: () => Promise<T>): Promise<T> {
    if (!schemaReady || down !== undefined) {
      throw new HttpError(503, 'store_failed', 'the dead-letter database is not available right now; try again');
    }
    try {
      return await run();
    } catch (err) {
      if (isUnavailable(err)) markDown(err);
      else log.error({ error: describe(err), store: 'postgres' }, 'dead-letter database statement failed');
      throw new HttpError(503, 'store_failed', 'the dead-letter database could not complete the request; try again', {
        cause: err,
      });
    }
  }

  const insertSql = `INSERT INTO ${letters}
    (id, received_at, event_id, event_type, event_source, error_code, error_destination, duplicate_key, invalid, letter)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (duplicate_key) WHERE replayed_at IS NULL DO NOTHING
    RETURNING id`;

  async function append(letter: DeadLetter): Promise<AppendResult> {
    const key = hashKey(duplicateKey(letter));
    const row = [
      letter.id,
      letter.receivedAt,
      indexed(letter.event.id),
      indexed(letter.event.type),
      indexed(letter.event.source),
      indexed(letter.error.code),
      indexed(letter.error.destination),
      key,
      letter.invalid !== undefined,
      JSON.stringify(letter),
    ];
    return use(async () => {
      // Twice at most: the stored duplicate may be marked replayed between the INSERT and the SELECT.
      for (let attempt = 0; attempt < 2; attempt++) {
        const inserted = await pool.query<{ id: string }>(insertSql, row);
        if (inserted.rowCount === 1) return { id: letter.id, duplicate: false };
        const existing = await pool.query<{ id: string }>(
          `SELECT id FROM ${letters} WHERE duplicate_key = $1 AND replayed_at IS NULL`,
          [key],
        );
        if (existing.rows[0]) return { id: existing.rows[0].id, duplicate: true };
      }
      throw new Error('dead-letter database: a duplicate kept changing while storing it');
    });
  }

  function stored(row: { letter: string; replay: string | null }): StoredLetter {
    return {
      letter: JSON.parse(row.letter) as DeadLetter,
      replayed: row.replay === null ? null : (JSON.parse(row.replay) as ReplayMarker),
    };
  }

  const query: DeadLetterQueries = {
    async list(request: PageRequest): Promise<Page> {
      const { filter, limit } = request;
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(sql.replace('?', `$${params.length}`));
      };
      if (filter.type !== undefined) add('event_type = ?', indexed(filter.type));
      if (filter.source !== undefined) add('event_source = ?', indexed(filter.source));
      if (filter.code !== undefined) add('error_code = ?', indexed(filter.code));
      if (filter.destination !== undefined) add('error_destination = ?', indexed(filter.destination));
      if (filter.replayed !== undefined)
        where.push(filter.replayed ? 'replayed_at IS NOT NULL' : 'replayed_at IS NULL');
      if (filter.receivedFrom !== undefined) add('received_at >= ?', filter.receivedFrom);
      if (filter.receivedTo !== undefined) add('received_at < ?', filter.receivedTo);
      const newest = request.order === 'newest';
      if (request.cursor !== undefined) add(newest ? 'seq < ?' : 'seq > ?', request.cursor);
      params.push(limit + 1);
      const sql = `SELECT seq, letter, replay FROM ${letters}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
        ORDER BY seq ${newest ? 'DESC' : 'ASC'} LIMIT $${params.length}`;
      const { rows } = await use(() => pool.query<{ seq: string; letter: string; replay: string | null }>(sql, params));
      const page = rows.slice(0, limit);
      // Indexed columns hold a prefix: long values that only share it are dropped here.
      const items = page.map(stored).filter((s) => letterMatches(s.letter, filter));
      return { items, nextCursor: rows.length > limit ? (page.at(-1)?.seq ?? null) : null };
    },
    async get(id) {
      const { rows } = await use(() =>
        pool.query<{ letter: string; replay: string | null }>(`SELECT letter, replay FROM ${letters} WHERE id = $1`, [
          id,
        ]),
      );
      return rows[0] ? stored(rows[0]) : undefined;
    },
    async markReplayed(marker) {
      await use(() =>
        pool.query(`UPDATE ${letters} SET replayed_at = $2, replay = $3 WHERE id = $1`, [
          marker.id,
          marker.replayedAt,
          JSON.stringify(marker),
        ]),
      );
    },
    async purge(ids) {
      const { rows } = await use(() =>
        pool.query<{ id: string }>(`DELETE FROM ${letters} WHERE id = ANY($1::text[]) RETURNING id`, [
          [...new Set(ids)],
        ]),
      );
      return rows.map((row) => row.id);
    },
    corrupt: () => [],
    validCursor: (cursor) => /^\d{1,18}$/.test(cursor),
  };

  // The first check is awaited (bounded by DLQ_DATABASE_TIMEOUT_MS) so a healthy start is ready at once;
  // if the database is not there yet, the probe keeps trying and /readyz says why meanwhile.
  try {
    await ensureSchema();
    down = undefined;
    startRetention();
  } catch (err) {
    markDown(err);
  }

  return {
    kind: 'postgres',
    query,
    append,
    size: () => undefined,
    notReady: () => (down === undefined ? undefined : `dead-letter database: ${down}`),
    async close() {
      closed = true;
      clearTimeout(probeTimer);
      clearInterval(retentionTimer);
      await retentionRunning;
      await pool.end();
    },
  };
}
