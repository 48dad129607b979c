// The single executable (dist/knative-events) runs each role from an empty folder with no Node on PATH: it
// must carry the runtime, every function and Node itself. Built by build/build-binary.mjs unless an
// executable newer than the bundle is already there (the build copies ~95 MiB and takes seconds).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundlePath, startBundle, type BundleProcess } from './helpers/bundle.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const binaryPath = join(root, 'dist/knative-events');

function binaryIsCurrent(): boolean {
  return (
    existsSync(binaryPath) && existsSync(bundlePath) && statSync(binaryPath).mtimeMs > statSync(bundlePath).mtimeMs
  );
}

/** Starts the executable in a fresh empty folder, with an environment that has no way to find a `node`. */
async function startBinary(env: Record<string, string>): Promise<BundleProcess & { folder: string }> {
  const folder = mkdtempSync(join(tmpdir(), 'knative-events-binary-'));
  const running = await startBundle(
    { PATH: '/nonexistent', LOG_LEVEL: 'info', ...env },
    { cwd: folder, command: [binaryPath], timeoutMs: 15_000 },
  );
  return { ...running, folder };
}

async function stop(running: BundleProcess & { folder: string }): Promise<void> {
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0, `exit code after SIGTERM; stderr: ${running.stderr()}`);
  rmSync(running.folder, { recursive: true, force: true });
}

async function healthy(url: string): Promise<void> {
  const res = await fetch(`${url}healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
}

describe('single executable', () => {
  let broker: Receiver;

  before(async () => {
    if (!binaryIsCurrent())
      execFileSync(process.execPath, [join(root, 'build/build-binary.mjs')], { cwd: root, stdio: 'pipe' });
    assert.ok(binaryIsCurrent(), 'dist/knative-events was not built');
    broker = await startReceiver();
  });
  after(() => broker.close());

  test('is a native executable, not a script that needs node', () => {
    const head = execFileSync('head', ['-c', '4', binaryPath]);
    assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46], 'expected an ELF header');
  });

  test('stops with exit code 1 and names the variable when ROLE is wrong', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'knative-events-binary-'));
    try {
      execFileSync(binaryPath, [], { cwd: folder, env: { PATH: '/nonexistent', ROLE: 'nope' }, stdio: 'pipe' });
      assert.fail('the executable accepted ROLE=nope');
    } catch (err) {
      const { status, stderr } = err as { status: number; stderr: Buffer };
      assert.equal(status, 1);
      assert.match(stderr.toString(), /ROLE: expected one of handler, subscriber/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('handler forwards the legacy request to the broker as a CloudEvent and answers 202', async () => {
    const running = await startBinary({ ROLE: 'handler', BROKER_URL: broker.url });
    try {
      await healthy(running.url);
      const res = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ce_source: 'event-subscriber-source',
          ce_type: 'event-subscriber-type',
        },
        body: JSON.stringify({ event_data_1: 'data value 1' }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const answer = (await res.json()) as { id: string };
      const received = broker.accepted().find((r) => r.event?.id === answer.id);
      assert.ok(received?.event, 'the broker did not receive the event');
      assert.equal(received.event.type, 'event-subscriber-type');
      assert.equal(received.event.source, 'event-subscriber-source');
      assert.deepEqual(received.event.data, { event_data_1: 'data value 1' });
      assert.equal(readdirSync(running.folder).length, 0, 'the executable wrote files into its working folder');
    } finally {
      await stop(running);
    }
  });

  test("compiles the bundle's code with the bundle's V8 code cache (build/sea-loader.cjs)", async () => {
    const running = await startBinary({ ROLE: 'subscriber', FUNCTION: 'echo', NODE_DEBUG: 'knative-events' });
    await stop(running);
    assert.match(
      running.stderr(),
      /KNATIVE-EVENTS \d+: code cache accepted/,
      'a dist/knative-events built with --no-code-cache carries none: npm run build:binary',
    );
  });

  test('subscriber runs echo on a binary-mode CloudEvent', async () => {
    const running = await startBinary({ ROLE: 'subscriber', FUNCTION: 'echo' });
    try {
      await healthy(running.url);
      const data = { trade: 42, side: 'buy', note: 'ünïcode' };
      const res = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': 'bin-1',
          'ce-source': '/test',
          'ce-type': 'test.echo',
        },
        body: JSON.stringify(data),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), data);
      const bad = await fetch(running.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'x' },
        body: '{}',
      });
      assert.equal(bad.status, 400);
    } finally {
      await stop(running);
    }
    // Logs are written asynchronously and flushed on exit, so they are complete only now.
    assert.match(running.stdout(), /"eventId":"bin-1"/);
  });

  test('sink-forwarder posts the function result to the KafkaSink and answers 202', async () => {
    const sink = await startReceiver();
    const running = await startBinary({
      ROLE: 'sink-forwarder',
      FUNCTION: 'echo',
      KAFKA_SINK_URL: sink.url,
      SINK_EVENT_TYPE: 'bench.forwarded',
    });
    try {
      await healthy(running.url);
      const data = { trade: 7, side: 'sell' };
      const res = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': 'fwd-1',
          'ce-source': '/test',
          'ce-type': 'test.forward',
        },
        body: JSON.stringify(data),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const [record] = sink.accepted();
      assert.ok(record?.event, 'the sink did not receive a CloudEvent');
      assert.equal(record.event.type, 'bench.forwarded');
      assert.deepEqual(record.event.data, data);
    } finally {
      await stop(running);
      await sink.close();
    }
  });

  test('dlq stores a dead letter in its working folder and serves it back to the admin API', async () => {
    const token = 'binary-test-admin-token-0123456789';
    const running = await startBinary({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token });
    try {
      await healthy(running.url);
      const res = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': 'dead-1',
          'ce-source': '/test',
          'ce-type': 'test.dead',
          'ce-knativeerrordest': 'http://subscriber.default.svc.cluster.local/',
          'ce-knativeerrorcode': '500',
        },
        body: JSON.stringify({ trade: 9 }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const id = res.headers.get('x-dead-letter-id');
      assert.ok(id, 'no x-dead-letter-id header');
      const stored = readFileSync(join(running.folder, 'dead-letters.jsonl'), 'utf8');
      assert.match(stored, /"dead-1"/);
      const shown = await fetch(`${running.url}dead-letters/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(shown.status, 200);
      assert.match(await shown.text(), /"dead-1"/);
    } finally {
      await stop(running);
    }
  });
});
