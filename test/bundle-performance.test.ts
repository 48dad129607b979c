// The built bundle (`npm run build` first) reads the global `performance` from process.hrtime
// (build/hrtime-performance.mjs, injected by esbuild) instead of Node's, whose first read loads node:perf_hooks'
// internals: a subscriber answers its first event with none of them loaded, tracing's wall-clock times (timeOrigin
// + now()) still land within a few milliseconds of Date.now(), and the bundle's code reads no member of
// `performance` that the stand-in lacks.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { embeddedParts } from '../build/code-cache.mjs';
import { binaryEvent, bundlePath, startBundle } from './helpers/bundle.js';
import { startOtlpCollector } from './helpers/otlp-collector.js';

const work = mkdtempSync(join(tmpdir(), 'ke-performance-'));
after(() => rmSync(work, { recursive: true, force: true }));

const event = (id: string) => binaryEvent(id, 'test.performance');

const code = (): string => embeddedParts(bundlePath)?.code ?? readFileSync(bundlePath, 'utf8');

test("the bundle's code has the hrtime performance and reads only now() and timeOrigin from it", () => {
  const text = code();
  assert.match(text, /build\/hrtime-performance\.mjs/, 'the stand-in is bundled');
  const members = new Set([...text.matchAll(/(?<![\w$/-])performance\??\.(\w+)/g)].map((m) => m[1]));
  assert.ok(members.has('now'), `performance.now() is read: ${[...members].join(', ')}`);
  assert.deepEqual([...members].sort(), ['now', 'timeOrigin']);
});

test('a subscriber answers its first event without loading node:perf_hooks', async () => {
  const list = join(work, 'modules.txt');
  const preload = join(work, 'module-list.cjs');
  // Node's list of loaded modules as it is when the first event's answer is sent (the /healthz probes are GETs):
  // the runtime's event-loop and GC metrics load perf_hooks on purpose a second after that.
  writeFileSync(
    preload,
    `const { ServerResponse } = require('node:http');
const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (...args) {
  if (this.req?.method === 'POST' && !require('node:fs').existsSync(${JSON.stringify(list)}))
    require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n'));
  return end.apply(this, args);
};\n`,
  );
  const running = await startBundle(
    { ROLE: 'subscriber', FUNCTION: 'echo' },
    { command: [process.execPath, '--require', preload, bundlePath] },
  );
  try {
    const res = await fetch(running.url, event('perf-1'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: 'perf-1' });
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
  }
  const loaded = readFileSync(list, 'utf8').split('\n');
  assert.ok(loaded.includes('NativeModule http'), 'the list is the real one: node:http is in it');
  // internal/perf/utils, observe and performance_entry are in every process (Node's bootstrap); the global
  // `performance` adds these, and perf_hooks itself.
  for (const name of ['perf_hooks', 'internal/perf/performance', 'internal/perf/usertiming', 'internal/histogram'])
    assert.ok(!loaded.includes(`NativeModule ${name}`), `${name} was loaded before the first answer`);
});

test("tracing's span times are wall-clock times: within a few ms of Date.now() around the request", async () => {
  const otlp = await startOtlpCollector();
  const running = await startBundle({
    ROLE: 'subscriber',
    FUNCTION: 'echo',
    K_SERVICE: 'clock-test',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: '10',
  });
  try {
    const sent = Date.now();
    const res = await fetch(running.url, event('clock-1'));
    assert.equal(res.status, 200);
    await res.text();
    const answered = Date.now();
    const [span] = await otlp
      .waitForSpans(
        (spans) => spans.some((s) => s.attributes['cloudevents.event_id'] === 'clock-1'),
        'the span of event clock-1',
        10_000,
      )
      .then((spans) => spans.filter((s) => s.attributes['cloudevents.event_id'] === 'clock-1'));
    assert.ok(span, 'the span of event clock-1');
    const [startMs, endMs] = [Number(span.startNs) / 1e6, Number(span.endNs) / 1e6];
    // Date.now() is whole milliseconds and the two processes read the clock at different instants: 5 ms of slack.
    assert.ok(startMs >= sent - 5 && startMs <= answered + 5, `start ${startMs} outside [${sent}, ${answered}]`);
    assert.ok(endMs >= startMs && endMs <= answered + 5, `end ${endMs} outside [${startMs}, ${answered}]`);
  } finally {
    running.child.kill('SIGTERM');
    await running.exited;
    await otlp.close();
  }
});
