// build/koa-on-finished-plugin.mjs: in the bundle, Koa's per-request on-finished (an AsyncResource and four
// listeners) is one res.once('close'). A request whose client goes away mid-body must still be counted in the
// metrics and must not stay "in flight" (draining would wait for it); and the build must stop if Koa's source
// no longer has the one call the stand-in was written for.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleConfig } from '../build/bundle-config.mjs';
import { koaOnFinished } from '../build/koa-on-finished-plugin.mjs';
import { startBundle } from './helpers/bundle.js';
import { waitFor } from './helpers/wait.js';
import { parseSamples, sumOf } from './metrics-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'koa-on-finished-'));
const bundle = join(dir, 'runtime.cjs');

before(async () => {
  // The product's bundle configuration, written here: dist/ is what the build step made, perhaps not this tree.
  const { options } = await bundleConfig(root);
  await build({ ...options, outfile: bundle, logLevel: 'warning' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the bundle's Koa application uses the one-listener stand-in; response.js keeps on-finished", () => {
  const text = readFileSync(bundle, 'utf8');
  assert.match(text, /res\.once\("close", \(\) => \{\s*const error = res\.socket\?\.errored/);
  assert.match(text, /function attachFinishedListener/, 'the real on-finished is still there for streamed bodies');
});

/** A POST whose body never comes: the connection is destroyed after part of it. */
function abortMidBody(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n' +
          'ce-specversion: 1.0\r\nce-id: aborted-1\r\nce-type: t\r\nce-source: /s\r\n\r\n{"part":',
        () => {
          socket.destroy();
          resolve();
        },
      );
    });
    socket.once('error', reject);
  });
}

test('a client that aborts mid-request is counted in the metrics and leaves nothing in flight', async () => {
  const runtime = await startBundle(
    { ROLE: 'subscriber', FUNCTION: 'echo', LOG_LEVEL: 'info' },
    { command: [process.execPath, bundle] },
  );
  try {
    const samples = async () => parseSamples(await (await fetch(`${runtime.url}metrics`)).text());
    const requestCount = (s: Awaited<ReturnType<typeof samples>>) =>
      sumOf(s, 'knative_events_http_request_duration_seconds_count', { route: '/', method: 'POST' });
    assert.equal(requestCount(await samples()), 0);
    await abortMidBody(runtime.port);
    const counted = await waitFor(
      async () => {
        const s = await samples();
        return requestCount(s) === 1 ? s : undefined;
      },
      10_000,
      { what: 'the aborted request in the metrics', context: () => runtime.stdout() },
    );
    assert.equal(sumOf(counted, 'knative_events_rejected_total', { reason: 'bad_request' }), 1);
    assert.equal(sumOf(counted, 'knative_events_http_requests_in_flight'), 1, 'the scrape itself, nothing else');
    // The drain reports what is still in flight (lifecycle, released on the response's 'close').
    runtime.child.kill('SIGTERM');
    assert.equal(await runtime.exited, 0);
    const draining = runtime
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; inFlight?: number })
      .find((l) => l.msg === 'draining');
    assert.equal(draining?.inFlight, 0, runtime.stdout());
  } finally {
    runtime.child.kill('SIGKILL');
  }
});

test('the build stops when Koa no longer calls onFinished(res, onerror) exactly once', async () => {
  const fake = join(dir, 'fake');
  mkdirSync(join(fake, 'node_modules/koa/lib'), { recursive: true });
  mkdirSync(join(fake, 'node_modules/on-finished'), { recursive: true });
  writeFileSync(join(fake, 'node_modules/on-finished/index.js'), 'module.exports = () => {};');
  writeFileSync(
    join(fake, 'node_modules/koa/lib/application.js'),
    "const onFinished = require('on-finished');\nmodule.exports = (res, onerror) => { onFinished(res, onerror); onFinished(res, () => {}); };\n",
  );
  await assert.rejects(
    build({
      stdin: { contents: "require('./node_modules/koa/lib/application.js');", resolveDir: fake },
      bundle: true,
      platform: 'node',
      write: false,
      logLevel: 'silent',
      plugins: [koaOnFinished],
    }),
    /expected exactly one "onFinished\(res, onerror\)" \(found 2 onFinished calls\)/,
  );
});
