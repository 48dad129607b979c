// The built bundle as a real process: start-up errors, the seed's request end to end, and SIGTERM under load.
// Needs `npm run build` (npm test runs it first).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundlePath, startBundle } from './helpers/bundle.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { waitFor } from './helpers/wait.js';

let broker: Receiver;
before(async () => {
  broker = await startReceiver();
});
after(async () => {
  await broker.close();
});

function runBundle(env: Record<string, string>) {
  return spawnSync(process.execPath, [bundlePath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

test('a wrong or missing variable stops the process at once: exit 1, the variable named, no stack trace', () => {
  const result = runBundle({ ROLE: 'handler', BROKER_URL: 'not a url', PORT: 'eighty' });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /BROKER_URL: expected the Knative Broker ingress URL/);
  assert.match(result.stderr, /PORT: expected a whole number from 1 to 65535 \(got "eighty"\)/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');
});

test('an unknown FUNCTION lists the functions the bundle knows', () => {
  const result = runBundle({ ROLE: 'subscriber', FUNCTION: 'transformer' });
  assert.equal(result.status, 1);
  assert.match(
    result.stderr,
    /FUNCTION: expected a function under functions\/: one of echo, trade-transform \(got "transformer"\)/,
  );
});

test("from any folder, the handler forwards the seed's curl request to the broker as a CloudEvent and answers 202", async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'ke-empty-'));
  const proc = await startBundle({ ROLE: 'handler', BROKER_URL: broker.url }, { cwd });
  try {
    // The seed's own curl command, run asynchronously: the broker stand-in lives in this process.
    const status = await new Promise<string>((resolve, reject) => {
      const child = spawn('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Content-Type: application/json',
        '-H',
        'ce_source: event-subscriber-source',
        '-H',
        'ce_type: event-subscriber-type',
        '-d',
        '{"event_data_1":"data value 1"}',
        proc.url,
      ]);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
    assert.equal(status, '202');
    const event = broker.requests.at(-1)?.event;
    assert.ok(event);
    assert.equal(event.type, 'event-subscriber-type');
    assert.equal(event.source, 'event-subscriber-source');
    assert.deepEqual(event.data, { event_data_1: 'data value 1' });
    event.validate();
  } finally {
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
  }
});

test('SIGTERM under load: every request in flight is answered 202, then the process exits 0', async () => {
  const slowBroker = await startReceiver({ status: 202, delayMs: 300 });
  const proc = await startBundle({ ROLE: 'handler', BROKER_URL: slowBroker.url, LOG_LEVEL: 'info' });
  try {
    const inFlight = Array.from({ length: 40 }, (_, i) =>
      fetch(proc.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ce_type: 't', ce_source: 's', 'ce-id': `load-${i}` },
        body: `{"i":${i}}`,
      }).then((r) => r.status),
    );
    // Wait until every request has reached the broker stand-in, so all are in flight at SIGTERM.
    await waitFor(() => slowBroker.requests.length >= 40, 5000, {
      what: 'all 40 requests at the broker stand-in',
      intervalMs: 10,
      context: () => `${slowBroker.requests.length} arrived`,
    });
    assert.equal(slowBroker.requests.length, 40);
    proc.child.kill('SIGTERM');
    const statuses = await Promise.all(inFlight);
    assert.deepEqual(statuses, Array(40).fill(202));
    assert.equal(await proc.exited, 0);
    const lines = proc
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; inFlight?: number });
    const draining = lines.find((l) => l.msg === 'draining');
    assert.ok(draining && (draining.inFlight ?? 0) > 0, 'SIGTERM arrived while requests were in flight');
    assert.equal(lines.at(-1)?.msg, 'stopped', JSON.stringify(lines.slice(-4)));
    assert.equal(lines.filter((l) => l.msg === 'request').length, 40);
  } finally {
    await slowBroker.close();
  }
});
