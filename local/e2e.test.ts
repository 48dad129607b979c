// End to end: `npm start`'s runner on values/local.yaml with real helm and the real bundle, on loopback with
// any free ports and its output in a temp folder. A trade goes handler → broker → transformer → KafkaSink
// file; a trade that cannot be mapped ends in the dlq store at once, an event whose subscriber never answers
// ends there after the trigger's retries (local/testdata/unreachable-trigger.yaml); Ctrl-C stops every child.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundlePath } from '../test/helpers/bundle.js';
import { ensureHelm } from '../test/chart/helm.js';
import { waitFor } from '../test/helpers/wait.js';
import { isAlive, readState, type RunState } from './state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), 'local-e2e-'));
const stateFile = join(outDir, 'state.json');
let output = '';
let runner: ReturnType<typeof spawn>;
let exited: Promise<number | null>;
let state: RunState;

/** waitFor with the runner's output in the failure message. */
const until = <T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> =>
  waitFor(probe, timeoutMs, { what, intervalMs: 50, context: () => `runner output:\n${output.slice(-4000)}` });

/** The promise's value, or a failure naming what did not happen within the deadline. */
async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () =>
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${what}; runner output:\n${output.slice(-4000)}`),
          ),
        timeoutMs,
      )),
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const jsonLines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

async function sendTrade(id: string, data: unknown): Promise<number> {
  const res = await fetch(state.handlerUrl as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ce_type: 'com.example.trade', ce_source: '/e2e', 'ce-id': id },
    body: JSON.stringify(data),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('npm start on values/local.yaml', () => {
  before(async () => {
    assert.ok(existsSync(bundlePath), 'dist/knative-events.cjs is missing: run `npm run build` first');
    ensureHelm();
    runner = spawn(
      process.execPath,
      [
        // as `npm start` runs it: the launcher's bundle of local/main.ts, not tsx transforming every module (≈ 1 s)
        'build/launch.mjs',
        'local/main.ts',
        'values/local.yaml',
        'local/testdata/unreachable-trigger.yaml',
        '--out-dir',
        outDir,
        '--port',
        '0',
        '--no-build',
      ],
      { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    runner.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    runner.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    // 'close', not 'exit': it comes once stdout and stderr have ended, so `output` then holds the last lines.
    exited = new Promise((resolve) => runner.once('close', (code) => resolve(code)));
    state = await until('the state file', () => readState(stateFile), 40_000);
    // The table is printed around the time the state file is written; wait for its last line to arrive.
    await until('the start-up table', () => (output.includes('Ctrl-C stops everything') ? true : undefined));
  });
  after(() => {
    if (runner.exitCode === null) runner.kill('SIGKILL');
    rmSync(outDir, { recursive: true, force: true });
  });

  it('runs every Service of the chart and prints where they are', () => {
    assert.deepEqual(state.services.map((s) => `${s.short}:${s.role}`).sort(), [
      'dlq:dlq',
      'echo:subscriber',
      'handler:handler',
      'transformer:sink-forwarder',
    ]);
    assert.match(output, /Services\n\s+NAME\s+URL\s+ROLE\s+FUNCTION/);
    assert.match(output, /transformer\s+http:\/\/127\.0\.0\.1:\d+\/\s+sink-forwarder\s+trade-transform/);
    assert.match(output, /npm run send -- --type/);
    assert.ok(state.services.every((s) => typeof s.pid === 'number' && isAlive(s.pid)));
  });

  it('a trade ends, transformed, in the sink file; an unmappable one in the dlq store', async () => {
    assert.equal(
      await sendTrade('trade-ok', {
        trade_id: 'T-1',
        instrument: { ticker: 'acme' },
        qty: 10,
        px: 1.5,
        side: 'B',
        trade_time: '2024-01-02T03:04:05Z',
      }),
      202,
    );
    assert.equal(await sendTrade('trade-bad', { trade_id: 'T-2' }), 202);
    const sinkFile = state.sinks[0]?.file as string;
    const [record] = await until('the sink record', () =>
      jsonLines(sinkFile).length > 0 ? jsonLines(sinkFile) : undefined,
    );
    assert.equal(record?.topic, 'trades-normalized');
    const headers = record?.headers as Record<string, string>;
    assert.equal(headers.ce_type, 'com.example.trade.normalized');
    assert.equal(headers.ce_source, '/local/transformer');
    assert.equal(headers.ce_subject, 'T-1');
    assert.equal(headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(String(record?.value)), {
      tradeId: 'T-1',
      symbol: 'ACME',
      quantity: 10,
      price: 1.5,
      side: 'BUY',
      currency: 'USD',
      tradedAt: '2024-01-02T03:04:05.000Z',
      venue: 'UNKNOWN',
      settled: false,
    });

    const dlqFile = state.dlqFiles[0] as string;
    const stored = await until('the dead letter', () => {
      const hit = jsonLines(dlqFile).find((l) => JSON.stringify(l).includes('trade-bad'));
      return hit;
    });
    const dead = stored.event as Record<string, string>;
    assert.equal(dead.id, 'trade-bad');
    assert.equal(dead.knativeerrorcode, '422', 'a permanent failure is not retried');
    assert.equal(dead.knativeerrordest, state.services.find((s) => s.short === 'transformer')?.url);
    assert.match(Buffer.from(dead.knativeerrordata ?? '', 'base64').toString('utf8'), /cannot be mapped/);
    assert.equal(jsonLines(sinkFile).length, 1, 'the bad trade wrote nothing to the sink');
    // The broker logs the delivery once the transformer has answered, which may be after the record is written.
    await until("the broker's delivery line", () =>
      /broker\s+│ .* com\.example\.trade → Service\/\S+transformer: 202/.test(output) ? true : undefined,
    );
  });

  it('an event whose subscriber never answers is retried as configured, then dead-lettered', async () => {
    const res = await fetch(state.handlerUrl as string, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ce_type: 'com.example.unreachable',
        ce_source: '/e2e',
        'ce-id': 'unreachable-1',
      },
      body: '{"n":1}',
    });
    assert.equal(res.status, 202);
    const dlqFile = state.dlqFiles[0] as string;
    const stored = await until('the dead letter', () =>
      jsonLines(dlqFile).find((l) => JSON.stringify(l).includes('unreachable-1')),
    );
    const dead = stored.event as Record<string, string>;
    assert.equal(dead.knativeerrordest, 'http://127.0.0.1:9/');
    assert.equal(dead.knativeerrorcode, undefined, 'no HTTP status: the connection was refused');
    // The broker logs the dead-lettering once the dlq has answered, so the line may follow the stored record.
    const verdict =
      /com\.example\.unreachable not delivered to \S+ \(.* after 3 attempts\): sent to the dead-letter sink/;
    await until('the dead-letter log line', () => (verdict.test(output) ? true : undefined));
    assert.match(output, /retry 1\/2 in \d+ ms/);
    assert.match(output, /retry 2\/2 in \d+ ms/);
  });

  it('stops on SIGINT, services first, and leaves no child running', async () => {
    const pids = state.services.map((s) => s.pid as number);
    runner.kill('SIGINT');
    assert.equal(await within('the runner to exit after SIGINT', exited, 45_000), 0, output.slice(-2000));
    assert.deepEqual(pids.filter(isAlive), []);
    assert.equal(existsSync(stateFile), false, 'the state file is removed');
    for (const s of state.services)
      assert.match(output, new RegExp(`^${s.short}\\s+│ .*INFO  draining`, 'm'), `${s.short} drained on SIGTERM`);
    assert.match(output.trimEnd(), /runner\s+│ \S+ INFO {2}stopped$/, 'the runner stops last');
  });
});
