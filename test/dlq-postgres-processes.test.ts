// The built bundle (dist/knative-events.cjs, `npm run build` first) as real dlq processes on one real
// PostgreSQL database: three replicas taking dead letters at once, Knative-style repeated deliveries among
// them, and the database stopped in the middle of a burst. What was acknowledged (202) must be stored exactly
// once; what could not be stored must have been answered 503 with Retry-After (Knative keeps it and retries);
// the dlq must recover when the database is back, without a restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBundle, type BundleProcess } from './helpers/bundle.js';
import { listAll, postDeadLetter, readyStatus, waitFor, type Sent } from './helpers/dead-letters.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';

const token = 'dlq-admin-token-for-process-tests';
let server: PostgresServer;
const running = new Set<BundleProcess>();

before(async () => {
  server = await startPostgres();
});
after(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await server?.close();
});

/**
 * A dlq process on `url`. `databaseTimeoutMs`: 2 s makes an outage show at once. With the database up, the
 * documented default (5 s): 3-5 letters were refused 503 with the database up at a load of 12 on 2 cores (2 runs
 * in 6), and with the server up and 15 connections of 100 a 503 can only be a statement past the timeout, after
 * which the store answers 503 until its next probe.
 */
async function replica(url: string, databaseTimeoutMs = '2000'): Promise<BundleProcess> {
  const p = await startBundle({
    ROLE: 'dlq',
    DLQ_STORE: 'postgres',
    DLQ_DATABASE_URL: url,
    DLQ_ADMIN_TOKEN: token,
    DLQ_DATABASE_TIMEOUT_MS: databaseTimeoutMs,
    LOG_LEVEL: 'warn',
  });
  running.add(p);
  return p;
}

async function stopReplica(p: BundleProcess): Promise<void> {
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.stderr());
  running.delete(p);
}

/** Runs `count` tasks with at most `width` at a time. */
async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

test('three dlq processes writing at once: every acknowledged dead letter is stored exactly once, duplicates included', async () => {
  const url = await server.createDatabase('replicas');
  // Started together: they create the schema at the same moment.
  const replicas = await Promise.all([replica(url, '5000'), replica(url, '5000'), replica(url, '5000')]);
  for (const r of replicas)
    await waitFor(`replica ${r.port} ready`, async () => ((await readyStatus(r.url)) === 200 ? true : undefined));

  const events = 240;
  // Every fourth event is delivered twice, to another replica (a lost 2xx, retried by Knative).
  const deliveries = Array.from({ length: events }, (_, i) => [i, i % 4 === 0 ? 2 : 1] as const).flatMap(([i, times]) =>
    Array.from({ length: times }, (_, k) => ({ i, k })),
  );
  const answers = await pool(deliveries.length, 24, async (n) => {
    const { i, k } = deliveries[n]!;
    const target = replicas[(i + k) % replicas.length]!;
    return { i, res: await postDeadLetter(target.url, { id: `ev-${i}`, data: { i, padding: 'x'.repeat(500) } }) };
  });
  const refused = answers.filter((a) => a.res.status !== 202);
  assert.deepEqual(
    refused.map((a) => `${a.res.status} ${a.res.text}`),
    [],
    'the database is up: nothing refused',
  );

  const stored = await server.query<{ event_id: string; n: number; ids: string[] }>(
    'replicas',
    'SELECT event_id, count(*)::int AS n, array_agg(id) AS ids FROM dead_letters GROUP BY event_id',
  );
  assert.equal(stored.rows.length, events);
  assert.deepEqual(
    stored.rows.filter((r) => r.n !== 1),
    [],
    'each event stored once',
  );
  const idOf = new Map(stored.rows.map((r) => [r.event_id, r.ids[0]]));
  for (const { i, res } of answers)
    assert.equal(res.id, idOf.get(`ev-${i}`), `ev-${i}: the answered id is the stored one`);

  // Every replica lists all of them.
  for (const r of replicas) assert.equal((await listAll(r.url, token)).length, events);
  for (const r of replicas) await stopReplica(r);
});

test('the database stopped mid-burst: refused letters got 503 with Retry-After, nothing acknowledged is missing, it recovers without a restart', async () => {
  const url = await server.createDatabase('outage');
  const dlq = await replica(url);
  const answers = new Map<string, Sent>();
  let sent = 0;
  let stopSending = false;
  const send = async (id: string): Promise<Sent> => {
    let answer: Sent;
    try {
      answer = await postDeadLetter(dlq.url, { id }, AbortSignal.timeout(10_000));
    } catch (err) {
      answer = { status: -1, text: String(err), id: null, retryAfter: null };
    }
    answers.set(id, answer);
    return answer;
  };
  // A steady burst from 8 senders until told to stop, or for 2 minutes at most: a wait below that fails
  // must not leave the senders running until the file's timeout. A sender refused with Retry-After sends its
  // next letter when asked to, as a sender that honours it does: without that pause each sender got a 503 every
  // millisecond or so while the database was down (~1,000 refusals in a run, all alike, half the file's CPU).
  const sendUntil = performance.now() + 120_000;
  const senders = Array.from({ length: 8 }, async () => {
    while (!stopSending && performance.now() < sendUntil) {
      const answer = await send(`burst-${sent++}`);
      if (answer.status === 503 && answer.retryAfter) await sleep(Number(answer.retryAfter) * 1000);
    }
  });
  const acknowledged = () => [...answers].filter(([, a]) => a.status === 202).map(([id]) => id);

  await waitFor('100 dead letters acknowledged before the outage', () =>
    acknowledged().length >= 100 ? true : undefined,
  );
  await server.stop('fast');
  await waitFor('/readyz to say not ready', async () => ((await readyStatus(dlq.url)) === 503 ? true : undefined));
  const refusedAtOutage = await waitFor('20 dead letters refused during the outage', () => {
    const refused = [...answers.values()].filter((a) => a.status === 503);
    return refused.length >= 20 ? refused : undefined;
  });
  await server.start();
  await waitFor(
    '/readyz to be ready again, same process',
    async () => ((await readyStatus(dlq.url)) === 200 ? true : undefined),
    20_000,
  );
  const before = acknowledged().length;
  await waitFor('50 more acknowledged after the outage', () =>
    acknowledged().length >= before + 50 ? true : undefined,
  );
  stopSending = true;
  await Promise.all(senders);

  const statuses = new Set([...answers.values()].map((a) => a.status));
  assert.deepEqual([...statuses].sort(), [202, 503], `only 202 and 503, got ${[...statuses].join(', ')}`);
  for (const refused of refusedAtOutage) {
    assert.equal(refused.retryAfter, '1');
    assert.equal(JSON.parse(refused.text).error.type, 'store_failed');
  }
  const rows = await server.query<{ event_id: string }>('outage', 'SELECT event_id FROM dead_letters');
  const storedIds = new Set(rows.rows.map((r) => r.event_id));
  assert.equal(storedIds.size, rows.rows.length, 'no event stored twice');
  const missing = acknowledged().filter((id) => !storedIds.has(id));
  assert.deepEqual(missing, [], 'acknowledged but not stored');
  assert.equal(dlq.child.exitCode, null, 'the same process throughout');
  await stopReplica(dlq);
});
