// The dlq's store configuration: DLQ_STORE=postgres needs DLQ_DATABASE_URL, which is never quoted in a problem
// (it holds a password) and may be a secret: reference; retention and schema only for the store that uses them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig, type DlqConfig } from '../runtime/config.js';

function problems(env: Record<string, string>, secrets?: Record<string, string>): readonly string[] {
  try {
    parseConfig({ ROLE: 'dlq', ...env }, secrets ? { get: (name) => secrets[name] } : undefined);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test('postgres: the URL is required, checked, never quoted; defaults for schema, pool and timeout', () => {
  assert.deepEqual(
    problems({ DLQ_STORE: 'postgres' }).map((p) => p.split(':')[0]),
    ['DLQ_DATABASE_URL'],
  );
  const bad = problems({ DLQ_STORE: 'postgres', DLQ_DATABASE_URL: 'mysql://user:hunter2@db/x' });
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^DLQ_DATABASE_URL: expected a PostgreSQL URL/);
  assert.doesNotMatch(bad.join('\n'), /hunter2/);
  const config = parseConfig({
    ROLE: 'dlq',
    DLQ_STORE: 'postgres',
    DLQ_DATABASE_URL: 'postgres://u:p@db:5432/dlq',
  }) as DlqConfig;
  assert.deepEqual(config.store, {
    kind: 'postgres',
    url: 'postgres://u:p@db:5432/dlq',
    schema: 'public',
    poolMax: 5,
    timeoutMs: 5000,
    retentionDays: undefined,
  });
});

test('postgres: DLQ_DATABASE_URL=secret:NAME is read from the secrets, and a missing secret names the reference only', () => {
  const url = 'postgresql://dlq:s3cret@pg.db.svc:5432/dead_letters?sslmode=require';
  const config = parseConfig(
    { ROLE: 'dlq', DLQ_STORE: 'postgres', DLQ_DATABASE_URL: 'secret:DLQ_DATABASE_URL' },
    { get: (n) => (n === 'DLQ_DATABASE_URL' ? url : undefined) },
  ) as DlqConfig;
  assert.equal(config.store.kind === 'postgres' && config.store.url, url);
  const missing = problems({ DLQ_STORE: 'postgres', DLQ_DATABASE_URL: 'secret:DLQ_DATABASE_URL' }, {});
  assert.deepEqual(missing, [
    'DLQ_DATABASE_URL: refers to secret DLQ_DATABASE_URL, which the loaded Vault secrets do not contain',
  ]);
});

test('retention, schema, pool: validated; retention and schema refused for stores that would ignore them', () => {
  const config = parseConfig({
    ROLE: 'dlq',
    DLQ_STORE: 'postgres',
    DLQ_DATABASE_URL: 'postgres://u:p@db/x',
    DLQ_RETENTION_DAYS: '30',
    DLQ_DATABASE_SCHEMA: 'dead_letters',
    DLQ_DATABASE_POOL_MAX: '10',
  }) as DlqConfig;
  assert.deepEqual(
    config.store.kind === 'postgres' && [config.store.retentionDays, config.store.schema, config.store.poolMax],
    [30, 'dead_letters', 10],
  );
  const wrong = problems({
    DLQ_STORE: 'postgres',
    DLQ_DATABASE_URL: 'postgres://u:p@db/x',
    DLQ_RETENTION_DAYS: '0',
    DLQ_DATABASE_SCHEMA: 'Bad-Name',
    DLQ_DATABASE_POOL_MAX: '1000',
  });
  assert.deepEqual(wrong.map((p) => p.split(':')[0]).sort(), [
    'DLQ_DATABASE_POOL_MAX',
    'DLQ_DATABASE_SCHEMA',
    'DLQ_RETENTION_DAYS',
  ]);
  assert.deepEqual(problems({ DLQ_RETENTION_DAYS: '7' }), [
    'DLQ_RETENTION_DAYS: only applies to DLQ_STORE=postgres (DLQ_STORE is file); remove it',
  ]);
  assert.deepEqual((parseConfig({ ROLE: 'dlq' }) as DlqConfig).store, { kind: 'file', file: 'dead-letters.jsonl' });
});
