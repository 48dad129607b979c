// The dlq role on loopback: dead letters in (binary CloudEvents carrying the knativeerror* extensions a
// Knative Broker adds), the JSON-lines file store on a real temporary file, the admin API, and replay to a
// broker stand-in (test/helpers/receiver.ts answering 202 like a Broker ingress).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildApp } from '../runtime/app.js';
import { parseConfig, type DlqConfig } from '../runtime/config.js';
import { bearerTokenMatches } from '../runtime/http/bearer.js';
import { openFileStore, type StoreFileHandle, type StoreFileSystem } from '../runtime/dlq/file-store.js';
import { nodeFileSystem } from '../runtime/dlq/file-system.js';
import { createHttpPoster } from '../runtime/events/http-client.js';
import { createLifecycle } from '../runtime/lifecycle.js';
import { createDlqRole } from '../runtime/roles/dlq.js';
import type { RoleObserver } from '../runtime/roles/role.js';
import { listen } from '../runtime/server.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';
import { sendDeadLetter as deadLetter, waitFor } from './helpers/dead-letters.js';
import { silentLogger } from './helpers/quiet.js';

const token = 'dlq-admin-token-for-tests-0123';
const auth = { authorization: `Bearer ${token}` };
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dlq-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'dead-letters.jsonl');
}

async function dlq(env: Record<string, string>): Promise<RunningRuntime> {
  const runtime = await startRuntime({
    ROLE: 'dlq',
    OUTBOUND_BACKOFF_MS: '1',
    OUTBOUND_BACKOFF_MAX_MS: '2',
    OUTBOUND_RETRIES: '1',
    ...env,
  });
  cleanups.push(() => runtime.stop());
  return runtime;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver({ status: 202 });
  cleanups.push(() => r.close());
  return r;
}

async function admin(url: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(new URL(path, url), { method: init.method ?? 'GET', headers: init.headers ?? auth });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('dlq: storing', () => {
  test('stores the event with its decoded error attributes before answering 202 with no body', async () => {
    const file = await tempFile();
    const runtime = await dlq({ DLQ_FILE: file, DLQ_ADMIN_TOKEN: token });
    const res = await deadLetter(runtime.url, {
      id: 'e-1',
      code: '422',
      body: '{"error":"trade T-1 cannot be mapped"}',
      data: { trade_id: 'T-1' },
    });
    assert.equal(res.status, 202);
    assert.equal(res.text, '');
    assert.ok(res.id);
    const lines = (await readFile(file, 'utf8')).split('\n');
    assert.equal(lines.length, 2, 'one line and its newline');
    const stored = JSON.parse(lines[0]!);
    assert.equal(stored.kind, 'dead-letter');
    assert.equal(stored.id, res.id);
    assert.deepEqual(stored.error, {
      destination: 'http://transform.default.svc.cluster.local',
      code: '422',
      data: '{"error":"trade T-1 cannot be mapped"}',
    });
    assert.equal(stored.event.id, 'e-1');
    assert.deepEqual(stored.data, { kind: 'json', text: '{"trade_id":"T-1"}' }, 'the data as it came, as its own text');
    assert.equal(stored.event.data, undefined);
    assert.equal(stored.event.knativeerrorcode, '422', 'the event is kept as it arrived, extensions included');

    const shown = await admin(runtime.url, `/dead-letters/${res.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.deadLetter.event.id, 'e-1');
    assert.deepEqual(shown.body.deadLetter.event.data, { trade_id: 'T-1' }, 'the API shows JSON data parsed');
    assert.deepEqual(shown.body.deadLetter.data, { kind: 'json', text: '{"trade_id":"T-1"}' });
    assert.equal(shown.body.deadLetter.replayed, null);
    assert.equal((await admin(runtime.url, '/dead-letters/no-such-id')).status, 404);
  });

  test('a store that fails answers 503 (the broker keeps the event) and the half-written line is cut back off', async () => {
    const file = await tempFile();
    let failNext = false;
    // Real file system, except that the next write lands only half of its bytes and then fails (a full disk).
    const flakyFs: StoreFileSystem = {
      stat: nodeFileSystem.stat,
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          ...bindAll(handle),
          async write(buffer: Buffer, offset: number, length: number) {
            if (!failNext) return handle.write(buffer, offset, length);
            failNext = false;
            await handle.write(buffer, offset, Math.floor(length / 2));
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          },
        };
      },
    };
    const observed: string[] = [];
    const observer: RoleObserver = {
      deadLetterStored: (dest, code) => observed.push(`stored ${dest} ${code}`),
      storeSize: (bytes, records) => observed.push(`size ${records} ${bytes > 0 ? 'bytes' : 'empty'}`),
    };
    const { url } = await dlqWithStore(file, flakyFs, observer);

    assert.equal((await deadLetter(url, { id: 'ok-1' })).status, 202);
    failNext = true;
    const failed = await deadLetter(url, { id: 'lost-1' });
    assert.equal(failed.status, 503);
    assert.equal(JSON.parse(failed.text).error.type, 'store_failed');
    assert.doesNotMatch(failed.text, /no space/, 'disk details go to the log, not the caller');
    assert.equal((await deadLetter(url, { id: 'ok-2' })).status, 202);

    const listed = await admin(url, '/dead-letters');
    assert.deepEqual(
      listed.body.items.map((i: { eventId: string }) => i.eventId),
      ['ok-2', 'ok-1'],
      'only what was acknowledged',
    );
    assert.deepEqual(listed.body.corrupt, [], 'the half-written line was cut back off');
    const lines = (await readFile(file, 'utf8')).split('\n');
    assert.deepEqual(
      lines.map((l) => (l ? JSON.parse(l).event.id : l)),
      ['ok-1', 'ok-2', ''],
      'two whole lines, nothing of the refused one',
    );
    assert.deepEqual(observed, [
      'size 0 empty',
      'stored http://transform.default.svc.cluster.local 422',
      'size 1 bytes',
      'stored http://transform.default.svc.cluster.local 422',
      'size 2 bytes',
    ]);
  });

  test('a corrupt line and a truncated last line are reported at start and by the list, and kept in the file', async () => {
    const file = await tempFile();
    const first = await dlq({ DLQ_FILE: file });
    await deadLetter(first.url, { id: 'a' });
    await deadLetter(first.url, { id: 'b' });
    await first.stop();
    const good = await readFile(file, 'utf8');
    const [lineA, lineB] = good.trimEnd().split('\n');
    await writeFile(file, `${lineA}\nthis is not json\n${lineB}\n${lineB!.slice(0, 40)}`);

    const runtime = await dlq({ DLQ_FILE: file, DLQ_ADMIN_TOKEN: token });
    const errors = runtime.logs().filter((l) => l.level === 'error');
    assert.ok(
      errors.some((l) => l.line === 2 && /not valid JSON/.test(String(l.reason))),
      JSON.stringify(errors),
    );
    assert.ok(
      errors.some((l) => l.line === 4 && /truncated/.test(String(l.reason))),
      JSON.stringify(errors),
    );

    let listed = await admin(runtime.url, '/dead-letters');
    assert.deepEqual(
      listed.body.items.map((i: { eventId: string }) => i.eventId),
      ['b', 'a'],
    );
    assert.deepEqual(
      listed.body.corrupt.map((c: { line: number }) => c.line),
      [2, 4],
    );
    assert.match(listed.body.corrupt[1].reason, /truncated/);

    assert.equal((await deadLetter(runtime.url, { id: 'c' })).status, 202);
    listed = await admin(runtime.url, '/dead-letters');
    assert.deepEqual(
      listed.body.items.map((i: { eventId: string }) => i.eventId),
      ['c', 'b', 'a'],
      'the new record starts on a line of its own',
    );
    assert.deepEqual(
      listed.body.corrupt.map((c: { line: number }) => c.line),
      [2, 4],
      'the fragment is still there, still reported',
    );
    const text = await readFile(file, 'utf8');
    assert.ok(text.includes(`${lineB!.slice(0, 40)}\n`));
  });

  test('DLQ_STORE=kafka-sink forwards the dead letter with its extensions and answers 5xx when the sink does not take it', async () => {
    const sink = await receiver();
    const runtime = await dlq({ DLQ_STORE: 'kafka-sink', KAFKA_SINK_URL: sink.url, DLQ_ADMIN_TOKEN: token });
    assert.equal((await deadLetter(runtime.url, { id: 'k-1', code: '500' })).status, 202);
    assert.equal(sink.accepted().length, 1);
    const event = sink.accepted()[0]!.event!;
    assert.equal(event.id, 'k-1');
    assert.equal(event.knativeerrorcode, '500');
    assert.equal(event.knativeerrordest, 'http://transform.default.svc.cluster.local');

    sink.setFallback({ status: 503 });
    const res = await deadLetter(runtime.url, { id: 'k-2' });
    assert.ok(res.status >= 500, `got ${res.status}`);
    assert.equal(sink.accepted().length, 1);

    const listed = await admin(runtime.url, '/dead-letters');
    assert.equal(listed.status, 404);
    assert.match(listed.body.error.message, /dead-letter topic/);
  });
});

describe('dlq: admin API', () => {
  test('refuses without the bearer token, and is off when no token is set', async () => {
    const file = await tempFile();
    const runtime = await dlq({ DLQ_FILE: file, DLQ_ADMIN_TOKEN: token });
    await deadLetter(runtime.url, { id: 'x' });
    const missing = await admin(runtime.url, '/dead-letters', { headers: {} });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.type, 'unauthorized');
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(
      (await admin(runtime.url, '/dead-letters', { headers: { authorization: `Bearer ${token}x` } })).status,
      401,
    );
    assert.equal(
      (await admin(runtime.url, '/dead-letters', { headers: { authorization: `Basic ${token}` } })).status,
      401,
    );
    assert.equal(
      (await admin(runtime.url, '/dead-letters/anything/replay', { method: 'POST', headers: {} })).status,
      401,
    );
    assert.equal(
      (await admin(runtime.url, '/dead-letters', { headers: { authorization: `bearer ${token}` } })).status,
      200,
    );

    const off = await dlq({ DLQ_FILE: await tempFile() });
    assert.equal((await admin(off.url, '/dead-letters')).status, 404);
  });

  test('routes by @koa/router: a wrong method is 405 with Allow before the token check, an unknown path 404, metrics by route template', async () => {
    const runtime = await dlq({ DLQ_FILE: await tempFile(), DLQ_ADMIN_TOKEN: token });
    const put = await admin(runtime.url, '/dead-letters', { method: 'PUT', headers: {} });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'HEAD, GET');
    assert.equal(put.body.error.type, 'method_not_allowed');
    const job = await admin(runtime.url, '/dead-letters/replays/j-1', { method: 'DELETE', headers: {} });
    assert.equal(job.status, 405);
    assert.equal(job.headers.get('allow'), 'HEAD, GET');
    for (const path of ['/dead-letters/', '/dead-letters/a/b', '/Dead-Letters']) {
      const missing = await admin(runtime.url, path);
      assert.equal(missing.status, 404, path);
      assert.equal(missing.body.error.type, 'not_found');
    }
    // The id is the path segment as sent, decoded once by the route: bad percent-encoding is a 400.
    assert.equal((await admin(runtime.url, '/dead-letters/%E0%A4%A')).status, 400);
    assert.equal(
      (await admin(runtime.url, '/dead-letters/no%20such')).body.error.message,
      'no dead letter with id "no such"',
    );
    const metrics = await (await fetch(new URL('/metrics', runtime.url))).text();
    assert.match(
      metrics,
      /knative_events_http_request_duration_seconds_count\{[^}]*route="\/dead-letters\/:id"[^}]*status_class="4xx"\} 2/,
    );
    assert.match(
      metrics,
      /knative_events_http_request_duration_seconds_count\{[^}]*route="unmatched",method="PUT"[^}]*\} 1/,
    );
  });

  test('bearerTokenMatches compares the whole token', () => {
    assert.equal(bearerTokenMatches(`Bearer ${token}`, token), true);
    assert.equal(bearerTokenMatches(`Bearer ${token.slice(0, -1)}`, token), false);
    assert.equal(bearerTokenMatches('Bearer ', token), false);
    assert.equal(bearerTokenMatches(undefined, token), false);
  });

  test('lists newest first, filters by type, source, code and replayed, and pages with a cursor', async () => {
    const runtime = await dlq({ DLQ_FILE: await tempFile(), DLQ_ADMIN_TOKEN: token });
    for (let i = 1; i <= 7; i++) {
      await deadLetter(runtime.url, {
        id: `e-${i}`,
        type: i % 2 ? 'odd' : 'even',
        source: i <= 3 ? '/early' : '/late',
        code: i === 7 ? '500' : '422',
      });
    }
    const ids = (body: { items: Array<{ eventId: string }> }) => body.items.map((i) => i.eventId);
    const page1 = await admin(runtime.url, '/dead-letters?limit=3');
    assert.deepEqual(ids(page1.body), ['e-7', 'e-6', 'e-5']);
    const page2 = await admin(runtime.url, `/dead-letters?limit=3&cursor=${page1.body.nextCursor}`);
    assert.deepEqual(ids(page2.body), ['e-4', 'e-3', 'e-2']);
    const page3 = await admin(runtime.url, `/dead-letters?limit=3&cursor=${page2.body.nextCursor}`);
    assert.deepEqual(ids(page3.body), ['e-1']);
    assert.equal(page3.body.nextCursor, null);

    assert.deepEqual(ids((await admin(runtime.url, '/dead-letters?type=odd')).body), ['e-7', 'e-5', 'e-3', 'e-1']);
    assert.deepEqual(ids((await admin(runtime.url, '/dead-letters?type=odd&source=/early')).body), ['e-3', 'e-1']);
    assert.deepEqual(ids((await admin(runtime.url, '/dead-letters?code=500')).body), ['e-7']);
    const odd = await admin(runtime.url, '/dead-letters?type=odd&limit=2');
    assert.deepEqual(ids(odd.body), ['e-7', 'e-5']);
    assert.deepEqual(
      ids((await admin(runtime.url, `/dead-letters?type=odd&limit=2&cursor=${odd.body.nextCursor}`)).body),
      ['e-3', 'e-1'],
    );
    assert.equal((await admin(runtime.url, '/dead-letters?limit=0')).status, 400);
    assert.equal((await admin(runtime.url, '/dead-letters?replayed=maybe')).status, 400);
    assert.deepEqual(ids((await admin(runtime.url, '/dead-letters?replayed=false&limit=1')).body), ['e-7']);
  });
});

describe('dlq: replay', () => {
  // Replays here go to the broker (to=broker); the default, the failed destination, is in dlq-replay.test.ts.
  test('replay sends the original event to the broker, marks it, and is idempotent across concurrent calls and restarts', async () => {
    const broker = await receiver();
    const file = await tempFile();
    const env = { DLQ_FILE: file, DLQ_ADMIN_TOKEN: token, BROKER_URL: broker.url };
    const runtime = await dlq(env);
    const stored = await deadLetter(runtime.url, { id: 'r-1', data: { trade_id: 'T-7' } });
    const other = await deadLetter(runtime.url, { id: 'r-2' });

    const first = await admin(runtime.url, `/dead-letters/${stored.id}/replay?to=broker`, { method: 'POST' });
    assert.equal(first.status, 200);
    assert.equal(first.body.replayed, true);
    assert.equal(first.body.status, 202);
    assert.equal(broker.accepted().length, 1);
    const replayed = broker.accepted()[0]!.event!;
    assert.equal(replayed.id, 'r-1', 'same id: a repeated replay is recognisably the same event');
    assert.deepEqual(replayed.data, { trade_id: 'T-7' });
    assert.equal(replayed.knativeerrorcode, undefined, 'the dead-letter extensions are not sent back');
    assert.equal(replayed.knativeerrordest, undefined);

    const again = await admin(runtime.url, `/dead-letters/${stored.id}/replay?to=broker`, { method: 'POST' });
    assert.equal(again.body.replayed, false);
    assert.equal(again.body.alreadyReplayedAt, first.body.replayedAt);
    assert.equal(broker.accepted().length, 1);

    const both = await Promise.all(
      [1, 2, 3].map(() => admin(runtime.url, `/dead-letters/${other.id}/replay?to=broker`, { method: 'POST' })),
    );
    assert.equal(both.filter((r) => r.body.replayed === true).length >= 1, true);
    assert.equal(broker.accepted().length, 2, 'three concurrent replays of one dead letter send it once');

    await runtime.stop();
    const restarted = await dlq(env);
    const afterRestart = await admin(restarted.url, `/dead-letters/${stored.id}/replay?to=broker`, { method: 'POST' });
    assert.equal(afterRestart.body.replayed, false, 'the replay marker is in the file');
    assert.equal((await admin(restarted.url, `/dead-letters/${stored.id}`)).body.deadLetter.replayed.status, 202);
    assert.deepEqual((await admin(restarted.url, '/dead-letters?replayed=true')).body.items.length, 2);

    const forced = await admin(restarted.url, `/dead-letters/${stored.id}/replay?to=broker&force=true`, {
      method: 'POST',
    });
    assert.equal(forced.body.replayed, true);
    assert.equal(broker.accepted().length, 3);
  });

  test('a replay the broker does not accept answers 5xx and leaves the dead letter unreplayed; batch replay by filter is a job', async () => {
    const broker = await receiver();
    const runtime = await dlq({ DLQ_FILE: await tempFile(), DLQ_ADMIN_TOKEN: token, BROKER_URL: broker.url });
    const a = await deadLetter(runtime.url, { id: 'b-1', type: 'retry.me' });
    await deadLetter(runtime.url, { id: 'b-2', type: 'retry.me' });
    await deadLetter(runtime.url, { id: 'b-3', type: 'leave.me' });

    broker.setFallback({ status: 503 });
    const failed = await admin(runtime.url, `/dead-letters/${a.id}/replay?to=broker`, { method: 'POST' });
    assert.ok(failed.status >= 500);
    assert.equal((await admin(runtime.url, '/dead-letters?replayed=true')).body.items.length, 0);

    // A batch replay is a job (POST /dead-letters/replay is the old name of POST /dead-letters/replays): it
    // answers at once and goes on past failures, which it reports.
    const finished = async (path: string) => {
      const started = await admin(runtime.url, path, { method: 'POST' });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      return waitFor('the replay job to finish', async () => {
        const { job } = (await admin(runtime.url, `/dead-letters/replays/${started.body.job.id}`)).body;
        return job.state === 'done' ? job : undefined;
      });
    };
    const batchDown = await finished('/dead-letters/replay?type=retry.me&to=broker&rate=100');
    assert.equal(batchDown.failed, 2);
    assert.deepEqual(
      batchDown.failures.map((f: { id: string }) => f.id),
      [a.id, batchDown.failures[1].id],
    );
    assert.match(batchDown.failures[0].message, /broker answered 503/);

    broker.setFallback({ status: 202 });
    assert.equal(
      (await admin(runtime.url, '/dead-letters/replay', { method: 'POST' })).status,
      400,
      'no filter and no all=true',
    );
    const batch = await finished('/dead-letters/replay?type=retry.me&to=broker&rate=100');
    assert.equal(batch.replayed, 2);
    assert.deepEqual(
      broker.accepted().map((r) => r.event!.id),
      ['b-1', 'b-2'],
    );
    const batchAgain = await finished('/dead-letters/replays?type=retry.me&to=broker&rate=100');
    assert.equal(batchAgain.total, 0, 'only dead letters not replayed yet');
    assert.equal(batchAgain.replayed, 0);
    assert.equal(broker.accepted().length, 2);
  });

  test('binary data is stored as data_base64 and replayed byte for byte', async () => {
    const broker = await receiver();
    const runtime = await dlq({ DLQ_FILE: await tempFile(), DLQ_ADMIN_TOKEN: token, BROKER_URL: broker.url });
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    const res = await fetch(runtime.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'ce-specversion': '1.0',
        'ce-id': 'bin-1',
        'ce-type': 'blob',
        'ce-source': '/b',
        'ce-knativeerrorcode': '500',
      },
      body: bytes,
    });
    assert.equal(res.status, 202);
    const id = res.headers.get('x-dead-letter-id');
    const shown = await admin(runtime.url, `/dead-letters/${id}`);
    assert.equal(shown.body.deadLetter.event.data_base64, bytes.toString('base64'));
    assert.equal(
      (await admin(runtime.url, `/dead-letters/${id}/replay?to=broker`, { method: 'POST' })).body.replayed,
      true,
    );
    const sent = broker.accepted()[0]!;
    assert.equal(sent.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(sent.body, bytes);
  });

  test('replay to the broker is off without BROKER_URL', async () => {
    const runtime = await dlq({ DLQ_FILE: await tempFile(), DLQ_ADMIN_TOKEN: token });
    const stored = await deadLetter(runtime.url, { id: 'n-1' });
    const res = await admin(runtime.url, `/dead-letters/${stored.id}/replay?to=broker`, { method: 'POST' });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /BROKER_URL/);
  });
});

function bindAll(handle: StoreFileHandle): StoreFileHandle {
  return {
    write: (b, o, l) => handle.write(b, o, l),
    read: (b, o, l, p) => handle.read(b, o, l, p),
    sync: () => handle.sync(),
    truncate: (n) => handle.truncate(n),
    stat: () => handle.stat(),
    close: () => handle.close(),
  };
}

/** The dlq role with a file store on a file system the test controls, wired the way assemble() wires it. */
async function dlqWithStore(file: string, fs: StoreFileSystem, roleObserver: RoleObserver): Promise<{ url: string }> {
  const config = parseConfig({ ROLE: 'dlq', DLQ_FILE: file, DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'silent' }) as DlqConfig;
  const log = silentLogger();
  const store = await openFileStore({ path: file, log, fs });
  const poster = createHttpPoster();
  const lifecycle = createLifecycle();
  const role = await createDlqRole(
    config,
    {
      log,
      env: {},
      poster,
      clock: { sleep: async () => {}, random: () => 0 },
      newId: (() => {
        let n = 0;
        return () => `dl-${++n}`;
      })(),
      now: () => new Date(),
      secrets: { get: () => undefined },
      loadFunction: () => Promise.reject(new Error('no function in the dlq role')),
      roleObserver,
      stopping: () => false,
    },
    { store },
  );
  const server: Server = await listen(buildApp({ log, lifecycle, role }), { port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await role.close?.();
    await poster.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
