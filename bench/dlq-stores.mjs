// The dlq's two durable stores side by side, each against a bare baseline doing only the durable part:
//
//   1. throughput of acknowledged dead letters (202s per second, N keep-alive connections):
//      file store vs bare node:http + append + fsync with the same group commit (peers/dlq-fsync-baseline.cjs);
//      postgres store vs bare node:http + INSERT through a pg pool (peers/dlq-insert-baseline.cjs);
//   2. start-up and memory with --records (1,000,000) dead letters stored, against bare node:http's idle RSS;
//   3. keyset paging over --paging-rows (100,000): the first page against the last one (and with a filter).
//
// Runs the built bundle (npm run build) and a throwaway PostgreSQL server (test/helpers/postgres.ts, imported as
// .js as the TypeScript sources import each other, which tsx resolves to the .ts: so run it with tsx):
//   node --import tsx bench/dlq-stores.mjs [--records 1000000] [--paging-rows 100000] [--seconds 8] [--connections 32]
// Prints markdown tables; figures are only comparable within one run on one machine.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../test/helpers/postgres.js';
import { freePort, memoryOf, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const records = arg('--records', 1_000_000);
const pagingRows = arg('--paging-rows', 100_000);
const seconds = arg('--seconds', 8);
const connections = arg('--connections', 32);
const token = 'dlq-admin-token-for-the-benchmark';
const bundle = join(root, 'dist/knative-events.cjs');
const dir = await mkdtemp(join(tmpdir(), 'dlq-bench-'));
const pg = await startPostgres();
const out = [];
const say = (line) => {
  out.push(line);
  console.log(line);
};

async function serve(label, args, env, readyPath = '/readyz') {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'error', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${label} exited during start-up`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${label} not ready in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, port, startMs: performance.now() - started };
}

const payload = JSON.stringify({
  trade_id: 'T-1',
  instrument: { ticker: 'acme' },
  qty: 10,
  px: 12.5,
  note: 'x'.repeat(600),
});
function headers(id) {
  return {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': 'com.example.trade',
    'ce-source': '/bench',
    'ce-knativeerrordest': 'http://transform.default.svc.cluster.local',
    'ce-knativeerrorcode': '422',
    'ce-knativeerrordata': Buffer.from('{"success":false}').toString('base64'),
  };
}

/** `connections` loops posting dead letters (unique ids) for `seconds`; acknowledged per second. */
async function load(port, label) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let acknowledged = 0;
  let other = 0;
  let n = 0;
  const post = () =>
    new Promise((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: headers(`${label}-${n++}`) },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('error', () => resolve(0));
      req.end(payload);
    });
  const run = async (untilMs, count) => {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < untilMs) {
          const status = await post();
          if (!count) continue;
          if (status === 202) acknowledged++;
          else other++;
        }
      }),
    );
  };
  await run(performance.now() + 1000, false);
  const started = performance.now();
  await run(started + seconds * 1000, true);
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { perSecond: acknowledged / elapsed, other };
}

async function throughput() {
  const file = join(dir, 'throughput.jsonl');
  const baseFile = join(dir, 'baseline.jsonl');
  const dbUrl = await pg.createDatabase('throughput');
  const baseUrl = await pg.createDatabase('baseline');
  /** @type {[label: string, args: string[], env: Record<string, string>, readyPath?: string][]} */
  const targets = [
    ['file store', [bundle], { ROLE: 'dlq', DLQ_FILE: file }],
    [
      'bare http + append + fsync (group commit)',
      [join(root, 'bench/peers/dlq-fsync-baseline.cjs')],
      { DLQ_FILE: baseFile },
      '/',
    ],
    ['postgres store', [bundle], { ROLE: 'dlq', DLQ_STORE: 'postgres', DLQ_DATABASE_URL: dbUrl }],
    [
      'bare http + pg INSERT',
      [join(root, 'bench/peers/dlq-insert-baseline.cjs')],
      { DATABASE_URL: baseUrl, POOL_MAX: '5' },
      '/',
    ],
  ];
  const results = [];
  for (const [label, args, env, readyPath] of targets) {
    const server = await serve(label, args, env, readyPath);
    const { perSecond, other } = await load(server.port, label.replace(/\W+/g, '-'));
    results.push({ label, perSecond, other, rss: memoryOf(server.child.pid).peakMiB });
    await stop(server.child);
  }
  say(
    `\n### Acknowledged dead letters per second (${connections} connections, ${seconds} s, ~${payload.length}-byte data)\n`,
  );
  say('| server | 202/s | not 202 | peak RSS MiB |\n| --- | ---: | ---: | ---: |');
  for (const r of results) say(`| ${r.label} | ${r.perSecond.toFixed(0)} | ${r.other} | ${r.rss.toFixed(0)} |`);
  say(
    `\nfile store ÷ its baseline: **${(results[0].perSecond / results[1].perSecond).toFixed(2)}**; postgres store ÷ its baseline: **${(results[2].perSecond / results[3].perSecond).toFixed(2)}**; postgres ÷ file: ${(results[2].perSecond / results[0].perSecond).toFixed(2)}`,
  );
}

function letterLine(i, receivedAt) {
  return `${JSON.stringify({
    kind: 'dead-letter',
    id: `bench-${i}`,
    receivedAt,
    error: {
      destination: 'http://transform.default.svc.cluster.local',
      code: i % 2 ? '422' : '500',
      data: '{"success":false}',
    },
    event: {
      specversion: '1.0',
      id: `ev-${i}`,
      source: '/bench',
      type: i % 2 ? 'odd' : 'even',
      datacontenttype: 'application/json',
      data: { trade_id: `T-${i}`, qty: i },
    },
  })}\n`;
}

async function fileWith(count, name) {
  const path = join(dir, name);
  const stream = createWriteStream(path);
  const receivedAt = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    if (!stream.write(letterLine(i, receivedAt)))
      await /** @type {Promise<void>} */ (new Promise((r) => stream.once('drain', r)));
  }
  await new Promise((r) => stream.end(r));
  return path;
}

async function databaseWith(count, name) {
  const url = await pg.createDatabase(name);
  // Let the dlq create its schema, then fill the table in one statement.
  const first = await serve('postgres store (schema)', [bundle], {
    ROLE: 'dlq',
    DLQ_STORE: 'postgres',
    DLQ_DATABASE_URL: url,
  });
  await stop(first.child);
  await pg.query(
    name,
    `INSERT INTO dead_letters (id, received_at, event_id, event_type, event_source, error_code, error_destination, duplicate_key, letter)
     SELECT 'bench-' || i, now(), 'ev-' || i, CASE WHEN i % 2 = 1 THEN 'odd' ELSE 'even' END, '/bench', CASE WHEN i % 2 = 1 THEN '422' ELSE '500' END,
            'http://transform.default.svc.cluster.local', md5(i::text),
            json_build_object('kind', 'dead-letter', 'id', 'bench-' || i, 'receivedAt', now(),
              'error', json_build_object('destination', 'http://transform.default.svc.cluster.local', 'code', CASE WHEN i % 2 = 1 THEN '422' ELSE '500' END, 'data', '{"success":false}'),
              'event', json_build_object('specversion', '1.0', 'id', 'ev-' || i, 'source', '/bench', 'type', CASE WHEN i % 2 = 1 THEN 'odd' ELSE 'even' END,
                'data', json_build_object('trade_id', 'T-' || i, 'qty', i)))::text
     FROM generate_series(0, $1 - 1) AS i`,
    [count],
  );
  await pg.query(name, 'VACUUM ANALYZE dead_letters');
  return url;
}

/**
 * A page of GET /dead-letters, as far as this script reads it.
 * @typedef {{ items: unknown[], nextCursor: string | null }} LetterPage
 */

async function timedGet(port, path) {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = /** @type {LetterPage} */ (await res.json());
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - started, body };
}

async function memory() {
  const bare = await serve('bare node:http', [join(root, 'bench/peers/bare-http.cjs')], {}, '/');
  const bareRss = memoryOf(bare.child.pid).rssMiB;
  await stop(bare.child);
  const file = await fileWith(records, 'million.jsonl');
  const dbUrl = await databaseWith(records, 'million');
  const rows = [];
  for (const [label, env] of [
    ['file store', { ROLE: 'dlq', DLQ_FILE: file, DLQ_ADMIN_TOKEN: token }],
    ['postgres store', { ROLE: 'dlq', DLQ_STORE: 'postgres', DLQ_DATABASE_URL: dbUrl, DLQ_ADMIN_TOKEN: token }],
  ]) {
    const server = await serve(label, [bundle], env);
    const idle = memoryOf(server.child.pid).rssMiB;
    const page = await timedGet(server.port, '/dead-letters?limit=50');
    if (page.body.items.length !== 50) throw new Error(`${label}: expected a full page`);
    rows.push({ label, startMs: server.startMs, idle, peak: memoryOf(server.child.pid).peakMiB, pageMs: page.ms });
    await stop(server.child);
  }
  say(`\n### ${records.toLocaleString('en')} dead letters stored: start-up and memory\n`);
  say(
    '| store | start → ready, ms | RSS after start, MiB | peak RSS, MiB | first page, ms |\n| --- | ---: | ---: | ---: | ---: |',
  );
  for (const r of rows)
    say(
      `| ${r.label} | ${r.startMs.toFixed(0)} | ${r.idle.toFixed(0)} | ${r.peak.toFixed(0)} | ${r.pageMs.toFixed(1)} |`,
    );
  say(`| bare node:http, idle (baseline) | | ${bareRss.toFixed(0)} | | |`);
  say(
    `\nRSS ÷ bare node:http: file store **${(rows[0].idle / bareRss).toFixed(2)}**, postgres store **${(rows[1].idle / bareRss).toFixed(2)}**`,
  );
}

/** Walks every page (newest first) to find the last one, then times the first and the last page alike. */
async function pagingOf(port, query) {
  let cursor = null;
  let lastCursor = null;
  let pages = 0;
  for (;;) {
    const { body } = await timedGet(port, `/dead-letters?limit=50${query}${cursor ? `&cursor=${cursor}` : ''}`);
    pages++;
    if (body.nextCursor === null) break;
    lastCursor = cursor = body.nextCursor;
  }
  const first = [];
  const last = [];
  for (let i = 0; i < 15; i++) {
    first.push((await timedGet(port, `/dead-letters?limit=50${query}`)).ms);
    last.push((await timedGet(port, `/dead-letters?limit=50${query}&cursor=${lastCursor}`)).ms);
  }
  return { pages, first: median(first), last: median(last) };
}

async function paging() {
  const file = await fileWith(pagingRows, 'paging.jsonl');
  const dbUrl = await databaseWith(pagingRows, 'paging');
  say(`\n### Paging over ${pagingRows.toLocaleString('en')} dead letters (limit 50, newest first, median of 15)\n`);
  say(
    '| store | filter | pages | first page, ms | last page, ms | last ÷ first |\n| --- | --- | ---: | ---: | ---: | ---: |',
  );
  for (const [label, env] of [
    ['postgres store', { ROLE: 'dlq', DLQ_STORE: 'postgres', DLQ_DATABASE_URL: dbUrl, DLQ_ADMIN_TOKEN: token }],
    ['file store', { ROLE: 'dlq', DLQ_FILE: file, DLQ_ADMIN_TOKEN: token }],
  ]) {
    const server = await serve(label, [bundle], env);
    for (const [name, query] of [
      ['none', ''],
      ['type=even', '&type=even'],
      ['code=500&type=even', '&code=500&type=even'],
    ]) {
      const r = await pagingOf(server.port, query);
      say(
        `| ${label} | ${name} | ${r.pages} | ${r.first.toFixed(2)} | ${r.last.toFixed(2)} | **${(r.last / r.first).toFixed(2)}** |`,
      );
    }
    await stop(server.child);
  }
}

try {
  await throughput();
  await paging();
  await memory();
} finally {
  await pg.close();
  await rm(dir, { recursive: true, force: true });
}
