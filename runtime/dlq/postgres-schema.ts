// The dead_letters table, created or migrated at start-up. Every replica runs this when it starts, often at
// the same moment (a new revision of 3 pods): a transaction-scoped advisory lock makes them take turns, and
// each step runs once, recorded in dead_letters_schema. A later change is a new step at the end, never an
// edit of an old one.
import type { PoolClient } from 'pg';

/** Quoted identifiers for one schema (validated by the config: lowercase letters, digits, _). */
export function tables(schema: string) {
  return {
    letters: `"${schema}".dead_letters`,
    version: `"${schema}".dead_letters_schema`,
    jobs: `"${schema}".dead_letter_replay_jobs`,
    audit: `"${schema}".dead_letter_audit`,
  };
}

function steps(schema: string): string[][] {
  const { letters, jobs, audit } = tables(schema);
  return [
    [
      // seq orders the list and is the paging key; id is the store id the API shows.
      `CREATE TABLE ${letters} (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        received_at timestamptz NOT NULL,
        event_id text,
        event_type text,
        event_source text,
        error_code text,
        error_destination text,
        duplicate_key text,
        invalid boolean NOT NULL DEFAULT false,
        letter text NOT NULL,
        replayed_at timestamptz,
        replay text
      )`,
      // One not-yet-replayed dead letter per (source, id, destination): a repeated delivery is the same one.
      `CREATE UNIQUE INDEX dead_letters_duplicate ON ${letters} (duplicate_key) WHERE replayed_at IS NULL`,
      // The admin filters, each with seq so a filtered page is an index range scan (keyset paging).
      `CREATE INDEX dead_letters_type ON ${letters} (event_type, seq)`,
      `CREATE INDEX dead_letters_source ON ${letters} (event_source, seq)`,
      `CREATE INDEX dead_letters_code ON ${letters} (error_code, seq)`,
      `CREATE INDEX dead_letters_destination ON ${letters} (error_destination, seq)`,
      `CREATE INDEX dead_letters_not_replayed ON ${letters} (seq) WHERE replayed_at IS NULL`,
      `CREATE INDEX dead_letters_replayed ON ${letters} (seq) WHERE replayed_at IS NOT NULL`,
      // Retention deletes the oldest first.
      `CREATE INDEX dead_letters_received ON ${letters} (received_at)`,
    ],
    [
      // Bulk replay jobs (dlq/replay-jobs.ts): the latest state of each, shared by every replica.
      `CREATE TABLE ${jobs} (id text PRIMARY KEY, created_at timestamptz NOT NULL, job text NOT NULL)`,
      `CREATE INDEX dead_letter_replay_jobs_created ON ${jobs} (created_at)`,
      // Every replay and purge (dlq/audit.ts), newest first by seq.
      `CREATE TABLE ${audit} (seq bigserial PRIMARY KEY, at timestamptz NOT NULL, entry text NOT NULL)`,
    ],
  ];
}

/** Creates or migrates the schema; safe to run from any number of replicas at once. Returns steps applied. */
export async function migrate(client: PoolClient, schema: string): Promise<number> {
  const { version } = tables(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`knative-events dead letters ${schema}`]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${version} (version integer NOT NULL)`);
    const current = await client.query<{ version: number }>(`SELECT version FROM ${version}`);
    const done = current.rows[0]?.version ?? 0;
    if (current.rowCount === 0) await client.query(`INSERT INTO ${version} (version) VALUES (0)`);
    const all = steps(schema);
    for (const statements of all.slice(done)) for (const sql of statements) await client.query(sql);
    if (all.length > done) await client.query(`UPDATE ${version} SET version = $1`, [all.length]);
    await client.query('COMMIT');
    return all.length - done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
