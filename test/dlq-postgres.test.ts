// The dlq with DLQ_STORE=postgres, in-process, against a real PostgreSQL server (test/helpers/postgres.ts):
// the admin API's answers are the file store's, duplicates are stored once, keyset paging and filters, dead
// letters that are not valid CloudEvents stored raw, retention in bounded batches, and the schema created by
// several replicas starting at once. Processes and outages: dlq-postgres-processes.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { deleteExpired } from '../runtime/dlq/postgres-retention.js';
import { adminCall, listAll, readyStatus, sendDeadLetter, waitFor } from './helpers/dead-letters.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'dlq-admin-token-for-postgres-tests';
let server: PostgresServer;
let databases = 0;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  server = await startPostgres();
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await server?.close();
});

async function database(): Promise<{ name: string; url: string }> {
  const name = `dlq_${++databases}`;
  return { name, url: await server.createDatabase(name) };
}

async function dlq(
  url: string,
  env: Record<string, string> = {},
  io: Parameters<typeof startRuntime>[1] = {},
): Promise<RunningRuntime> {
  const runtime = await startRuntime(
    {
      ROLE: 'dlq',
      DLQ_STORE: 'postgres',
      DLQ_DATABASE_URL: url,
      DLQ_ADMIN_TOKEN: token,
      LOG_LEVEL: 'warn',
      OUTBOUND_RETRIES: '0',
      ...env,
    },
    io,
  );
  cleanups.push(() => runtime.stop());
  return runtime;
}

const eventIds = (items: Array<{ eventId: string | null }>) => items.map((i) => i.eventId);

describe('dlq postgres store', () => {
  test('stores with the decoded error, shows, lists newest first with filters and keyset paging', async () => {
    const db = await database();
    const runtime = await dlq(db.url);
    assert.equal(await readyStatus(runtime.url), 200);
    const first = await sendDeadLetter(runtime.url, {
      id: 'e-1',
      code: '422',
      body: '{"error":"no mapping"}',
      data: { trade_id: 'T-1' },
    });
    assert.equal(first.status, 202);
    assert.equal(first.text, '');
    for (let i = 2; i <= 7; i++) {
      const res = await sendDeadLetter(runtime.url, {
        id: `e-${i}`,
        type: i % 2 ? 'odd' : 'even',
        source: i <= 3 ? '/early' : '/late',
        code: i === 7 ? '500' : '422',
        dest: i === 6 ? 'http://other.default.svc' : undefined,
      });
      assert.equal(res.status, 202);
    }
    const shown = await adminCall(runtime.url, token, `/dead-letters/${first.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.deadLetter.error, {
      destination: 'http://transform.default.svc.cluster.local',
      code: '422',
      data: '{"error":"no mapping"}',
    });
    assert.deepEqual(shown.body.deadLetter.event.data, { trade_id: 'T-1' });
    assert.equal(shown.body.deadLetter.replayed, null);
    assert.equal((await adminCall(runtime.url, token, '/dead-letters/nope')).status, 404);

    const page1 = await adminCall(runtime.url, token, '/dead-letters?limit=3');
    assert.deepEqual(eventIds(page1.body.items), ['e-7', 'e-6', 'e-5']);
    assert.deepEqual(page1.body.corrupt, []);
    const page2 = await adminCall(runtime.url, token, `/dead-letters?limit=3&cursor=${page1.body.nextCursor}`);
    assert.deepEqual(eventIds(page2.body.items), ['e-4', 'e-3', 'e-2']);
    const page3 = await adminCall(runtime.url, token, `/dead-letters?limit=3&cursor=${page2.body.nextCursor}`);
    assert.deepEqual(eventIds(page3.body.items), ['e-1']);
    assert.equal(page3.body.nextCursor, null);

    assert.deepEqual(eventIds((await adminCall(runtime.url, token, '/dead-letters?type=odd')).body.items), [
      'e-7',
      'e-5',
      'e-3',
    ]);
    assert.deepEqual(
      eventIds((await adminCall(runtime.url, token, '/dead-letters?type=odd&source=/early')).body.items),
      ['e-3'],
    );
    assert.deepEqual(eventIds((await adminCall(runtime.url, token, '/dead-letters?code=500')).body.items), ['e-7']);
    assert.deepEqual(
      eventIds(
        (
          await adminCall(
            runtime.url,
            token,
            `/dead-letters?destination=${encodeURIComponent('http://other.default.svc')}`,
          )
        ).body.items,
      ),
      ['e-6'],
    );
    assert.equal((await adminCall(runtime.url, token, '/dead-letters?cursor=abc')).status, 400);
  });

  test('a repeated delivery is stored once (same id answered); after a replay the same event is a new dead letter', async () => {
    const db = await database();
    const broker = await startReceiver({ status: 202 });
    cleanups.push(() => broker.close());
    const runtime = await dlq(db.url, { BROKER_URL: broker.url });
    const a = await sendDeadLetter(runtime.url, { id: 'dup-1' });
    const again = await Promise.all([1, 2, 3].map(() => sendDeadLetter(runtime.url, { id: 'dup-1' })));
    assert.deepEqual(
      again.map((r) => [r.status, r.id]),
      [
        [202, a.id],
        [202, a.id],
        [202, a.id],
      ],
    );
    // Same event, another trigger's destination: a different dead letter.
    const other = await sendDeadLetter(runtime.url, { id: 'dup-1', dest: 'http://audit.default.svc' });
    assert.notEqual(other.id, a.id);
    const rows = await server.query(db.name, 'SELECT count(*)::int AS n FROM dead_letters WHERE event_id = $1', [
      'dup-1',
    ]);
    assert.equal(rows.rows[0]?.n, 2);

    const replayed = await adminCall(runtime.url, token, `/dead-letters/${a.id}/replay?to=broker`, 'POST');
    assert.equal(replayed.body.replayed, true);
    assert.equal(broker.accepted()[0]?.event?.id, 'dup-1');
    assert.equal(
      (await adminCall(runtime.url, token, `/dead-letters/${a.id}/replay?to=broker`, 'POST')).body.replayed,
      false,
    );
    const failedAgain = await sendDeadLetter(runtime.url, { id: 'dup-1' });
    assert.equal(failedAgain.status, 202);
    assert.notEqual(failedAgain.id, a.id, 'failed again after its replay: a new dead letter');
    assert.deepEqual(eventIds(await listAll(runtime.url, token, '&replayed=true')), ['dup-1']);
    assert.equal((await listAll(runtime.url, token, '&replayed=false')).length, 2);

    // Oldest first, for bulk replay: the store's order, whatever runs on top of it.
    const oldest = await adminCall(runtime.url, token, '/dead-letters?replayed=false&limit=500');
    assert.deepEqual(oldest.body.items.map((i: { id: string }) => i.id).reverse(), [other.id, failedAgain.id]);
  });

  test('dead letters that are not valid CloudEvents are stored raw and listed; no CloudEvent attribute at all is a 400', async () => {
    const db = await database();
    const runtime = await dlq(db.url);
    const base = { 'ce-specversion': '1.0', 'ce-type': 't', 'ce-source': '/raw' };
    const broken = await fetch(runtime.url, {
      method: 'POST',
      headers: { ...base, 'ce-id': 'broken', 'content-type': 'application/json' },
      body: '{"no": ',
    });
    assert.equal(broken.status, 202);
    const nul = await fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: 'nul', source: '/a\u0000b', type: 'x'.repeat(5000), data: 1 }),
    });
    assert.equal(nul.status, 202, 'a NUL and a 5000-character type are stored, not a 5xx');
    const none = await fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(none.status, 400);
    const shown = await adminCall(runtime.url, token, `/dead-letters/${broken.headers.get('x-dead-letter-id')}`);
    assert.equal(Buffer.from(shown.body.deadLetter.event.data_base64, 'base64').toString(), '{"no": ');
    assert.match(shown.body.deadLetter.invalid, /JSON/);
    assert.deepEqual(eventIds(await listAll(runtime.url, token)), ['nul', 'broken']);
    assert.deepEqual(eventIds(await listAll(runtime.url, token, `&type=${'x'.repeat(5000)}`)), ['nul']);
  });

  test('three replicas starting at once create the schema once; a restart leaves it as it is', async () => {
    const db = await database();
    const replicas = await Promise.all([1, 2, 3].map(() => dlq(db.url)));
    for (const r of replicas) assert.equal(await readyStatus(r.url), 200);
    const version = await server.query<{ version: number }>(db.name, 'SELECT version FROM dead_letters_schema');
    assert.equal(version.rows.length, 1, 'one version row, written once');
    assert.ok((version.rows[0]?.version ?? 0) >= 1);
    const stored = await sendDeadLetter(replicas[0]!.url, { id: 'seen-by-all' });
    for (const r of replicas)
      assert.equal(
        (await adminCall(r.url, token, `/dead-letters/${stored.id}`)).body.deadLetter.event.id,
        'seen-by-all',
      );
    const again = await dlq(db.url);
    assert.equal(await readyStatus(again.url), 200);
    assert.deepEqual(
      (await server.query(db.name, 'SELECT version FROM dead_letters_schema')).rows,
      version.rows,
      'a restart changes nothing',
    );
    assert.deepEqual(eventIds(await listAll(again.url, token)), ['seen-by-all']);
  });

  test('DLQ_RETENTION_DAYS deletes what is older, in bounded batches; newer dead letters stay', async () => {
    const db = await database();
    let now = new Date(Date.now() - 30 * 86_400_000);
    const old = await dlq(db.url, {}, { now: () => now });
    for (let i = 0; i < 10; i++) assert.equal((await sendDeadLetter(old.url, { id: `old-${i}` })).status, 202);
    now = new Date();
    for (let i = 0; i < 3; i++) assert.equal((await sendDeadLetter(old.url, { id: `new-${i}` })).status, 202);
    await old.stop();

    // The deletion itself, batch by batch: 10 old rows in batches of 4 → 3 batches.
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    cleanups.push(() => pool.end());
    const probe = await deleteExpired(pool, 'dead_letters', new Date(Date.now() - 365 * 86_400_000), 4);
    assert.deepEqual(probe, { deleted: 0, batches: 0 }, 'nothing is a year old');
    const counted = await server.query(db.name, 'SELECT count(*)::int AS n FROM dead_letters');
    assert.equal(counted.rows[0]?.n, 13);

    // A dlq started with retention deletes the old ones on its own.
    const current = await dlq(db.url, { DLQ_RETENTION_DAYS: '7' });
    await waitFor('the 10 old dead letters to be deleted', async () =>
      (await listAll(current.url, token)).length === 3 ? true : undefined,
    );
    assert.deepEqual(eventIds(await listAll(current.url, token)).sort(), ['new-0', 'new-1', 'new-2']);
  });

  test('bounded batches: deleteExpired removes at most `batch` rows per statement', async () => {
    const db = await database();
    const runtime = await dlq(db.url, {}, { now: () => new Date('2020-01-01T00:00:00Z') });
    for (let i = 0; i < 10; i++) await sendDeadLetter(runtime.url, { id: `b-${i}` });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    cleanups.push(() => pool.end());
    assert.deepEqual(await deleteExpired(pool, 'dead_letters', new Date('2021-01-01T00:00:00Z'), 4), {
      deleted: 10,
      batches: 3,
    });
    assert.deepEqual(await listAll(runtime.url, token), []);
  });

  test('a slow database (the table locked by someone else): 503 within DLQ_DATABASE_TIMEOUT_MS, not ready, ready again once it answers', async () => {
    const db = await database();
    const runtime = await dlq(db.url, { DLQ_DATABASE_TIMEOUT_MS: '500' });
    assert.equal((await sendDeadLetter(runtime.url, { id: 'before' })).status, 202);
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE dead_letters IN ACCESS EXCLUSIVE MODE');
    const started = Date.now();
    const slow = await sendDeadLetter(runtime.url, { id: 'during' });
    assert.equal(slow.status, 503);
    assert.equal(slow.retryAfter, '1');
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms, not left hanging`);
    await waitFor('/readyz to say not ready', async () =>
      (await readyStatus(runtime.url)) === 503 ? true : undefined,
    );
    assert.equal((await sendDeadLetter(runtime.url, { id: 'while-not-ready' })).status, 503);
    await locker.query('COMMIT');
    await waitFor('/readyz to be ready again', async () =>
      (await readyStatus(runtime.url)) === 200 ? true : undefined,
    );
    assert.equal((await sendDeadLetter(runtime.url, { id: 'after' })).status, 202);
    assert.deepEqual(eventIds(await listAll(runtime.url, token)), ['after', 'before']);
  });

  test('a database that is not there at start: not ready, 503 with Retry-After, ready once it is', async () => {
    const name = `dlq_${++databases}`;
    const runtime = await dlq(server.url(name), { DLQ_DATABASE_TIMEOUT_MS: '1000' });
    const ready = await fetch(new URL('/readyz', runtime.url));
    assert.equal(ready.status, 503);
    assert.match(
      ((await ready.json()) as { error: { message: string } }).error.message,
      new RegExp(`database "${name}" does not exist`),
    );
    const refused = await sendDeadLetter(runtime.url, { id: 'early' });
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, '1');
    assert.doesNotMatch(
      refused.text + JSON.stringify(runtime.logs()),
      new RegExp(server.password),
      'the password is never shown',
    );
    await server.createDatabase(name);
    await waitFor('/readyz to turn 200', async () => ((await readyStatus(runtime.url)) === 200 ? true : undefined));
    assert.equal((await sendDeadLetter(runtime.url, { id: 'later' })).status, 202);
  });
});
