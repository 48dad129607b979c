// The dead-letter table's statements: the INSERT of a dead letter (once: a repeated delivery of one that is
// stored and not replayed yet gets the stored id back) and the admin API's reads and marks. Every statement
// goes through `use` (postgres-availability.ts): 503 while the database is not there.
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { attributeText, duplicateKey, type DeadLetter, type ReplayMarker } from './record.js';
import {
  letterMatches,
  type AppendResult,
  type DeadLetterQueries,
  type Page,
  type PageRequest,
  type StoredLetter,
} from './store.js';

export type Use = <T>(run: () => Promise<T>) => Promise<T>;

/** Indexed columns keep a prefix: a btree entry has a size limit, and a 1 MB `source` must not make a 5xx. */
const indexedChars = 500;

/** NUL cannot be stored in a text column; it is the only character PostgreSQL refuses. */
function indexed(value: unknown): string | null {
  const text = attributeText(value);
  return text === undefined ? null : text.replaceAll('\u0000', '\ufffd').slice(0, indexedChars);
}

function hashKey(key: string | undefined): string | null {
  return key === undefined ? null : createHash('sha256').update(key).digest('hex');
}

export function postgresAppend(pool: Pool, letters: string, use: Use): (letter: DeadLetter) => Promise<AppendResult> {
  const insertSql = `INSERT INTO ${letters}
    (id, received_at, event_id, event_type, event_source, error_code, error_destination, duplicate_key, invalid, letter)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (duplicate_key) WHERE replayed_at IS NULL DO NOTHING
    RETURNING id`;
  const selectSql = `SELECT id FROM ${letters} WHERE duplicate_key = $1 AND replayed_at IS NULL`;
  return (letter) => {
    const key = hashKey(duplicateKey(letter));
    const { event, error } = letter;
    const row = [
      ...[letter.id, letter.receivedAt, indexed(event.id), indexed(event.type), indexed(event.source)],
      ...[indexed(error.code), indexed(error.destination), key, letter.invalid !== undefined, JSON.stringify(letter)],
    ];
    return use(async () => {
      // Twice at most: the stored duplicate may be marked replayed between the INSERT and the SELECT.
      for (let attempt = 0; attempt < 2; attempt++) {
        const inserted = await pool.query<{ id: string }>(insertSql, row);
        if (inserted.rowCount === 1) return { id: letter.id, duplicate: false };
        const existing = await pool.query<{ id: string }>(selectSql, [key]);
        if (existing.rows[0]) return { id: existing.rows[0].id, duplicate: true };
      }
      throw new Error('dead-letter database: a duplicate kept changing while storing it');
    });
  };
}

function stored(row: { letter: string; replay: string | null }): StoredLetter {
  return {
    letter: JSON.parse(row.letter) as DeadLetter,
    replayed: row.replay === null ? null : (JSON.parse(row.replay) as ReplayMarker),
  };
}

/** The page's SELECT: the filter on the indexed columns, keyset paging on seq, one row more to tell "more". */
function pageQuery(letters: string, request: PageRequest): { sql: string; params: unknown[] } {
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
  if (filter.replayed !== undefined) where.push(filter.replayed ? 'replayed_at IS NOT NULL' : 'replayed_at IS NULL');
  if (filter.receivedFrom !== undefined) add('received_at >= ?', filter.receivedFrom);
  if (filter.receivedTo !== undefined) add('received_at < ?', filter.receivedTo);
  const newest = request.order === 'newest';
  if (request.cursor !== undefined) add(newest ? 'seq < ?' : 'seq > ?', request.cursor);
  params.push(limit + 1);
  const sql = `SELECT seq, letter, replay FROM ${letters}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
        ORDER BY seq ${newest ? 'DESC' : 'ASC'} LIMIT $${params.length}`;
  return { sql, params };
}

async function listPage(pool: Pool, letters: string, use: Use, request: PageRequest): Promise<Page> {
  const { sql, params } = pageQuery(letters, request);
  const { rows } = await use(() => pool.query<{ seq: string; letter: string; replay: string | null }>(sql, params));
  const page = rows.slice(0, request.limit);
  // Indexed columns hold a prefix: long values that only share it are dropped here.
  const items = page.map(stored).filter((s) => letterMatches(s.letter, request.filter));
  return { items, nextCursor: rows.length > request.limit ? (page.at(-1)?.seq ?? null) : null };
}

export function postgresQueries(pool: Pool, letters: string, use: Use): DeadLetterQueries {
  return {
    list: (request) => listPage(pool, letters, use, request),
    async get(id) {
      const sql = `SELECT letter, replay FROM ${letters} WHERE id = $1`;
      const { rows } = await use(() => pool.query<{ letter: string; replay: string | null }>(sql, [id]));
      return rows[0] ? stored(rows[0]) : undefined;
    },
    async markReplayed(marker) {
      const sql = `UPDATE ${letters} SET replayed_at = $2, replay = $3 WHERE id = $1`;
      await use(() => pool.query(sql, [marker.id, marker.replayedAt, JSON.stringify(marker)]));
    },
    async purge(ids) {
      const sql = `DELETE FROM ${letters} WHERE id = ANY($1::text[]) RETURNING id`;
      const { rows } = await use(() => pool.query<{ id: string }>(sql, [[...new Set(ids)]]));
      return rows.map((row) => row.id);
    },
    corrupt: () => [],
    validCursor: (cursor) => /^\d{1,18}$/.test(cursor),
  };
}
