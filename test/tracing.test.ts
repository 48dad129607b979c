// Tracing's parts on their own: W3C trace context parsing and the header/extension precedence, the samplers,
// the OTEL_* configuration, the batch queue's bound while the collector hangs, and the lazy-loading rule (with
// tracing off, only the tiny pass-through core is imported by the rest of the runtime).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../runtime/config/fields.js';
import { BatchProcessor } from '../runtime/tracing/batch.js';
import { parseTracingConfig } from '../runtime/tracing/config.js';
import { extractContext, formatTraceparent, parseTraceparent, parseTracestate } from '../runtime/tracing/context.js';
import { noopTracing, openTracing, tracingRequested } from '../runtime/tracing/index.js';
import { createSampler, ratioSampler } from '../runtime/tracing/sampler.js';
import type { FinishedSpan } from '../runtime/tracing/span.js';
import { waitFor } from './helpers/wait.js';

const trace = '0af7651916cd43dd8448eb211c80319c';
const span = 'b7ad6b7169203331';
const traceparent = `00-${trace}-${span}-01`;

describe('W3C trace context', () => {
  test('a valid traceparent parses and formats back the same; invalid ones are ignored, never fatal', () => {
    assert.deepEqual(parseTraceparent(traceparent), { traceId: trace, spanId: span, traceFlags: 1 });
    assert.equal(formatTraceparent(parseTraceparent(traceparent)!), traceparent);
    assert.deepEqual(parseTraceparent(`00-${trace}-${span}-00`, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'), {
      traceId: trace,
      spanId: span,
      traceFlags: 0,
      traceState: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    });
    // A later version may append fields: the first four are read.
    assert.equal(parseTraceparent(`01-${trace}-${span}-01-extra`)?.traceId, trace);
    for (const bad of [
      `00-${'0'.repeat(32)}-${span}-01`, // all-zero trace id
      `00-${trace}-${'0'.repeat(16)}-01`, // all-zero span id
      `ff-${trace}-${span}-01`, // version ff is invalid
      `00-${trace}-${span}-01-extra`, // version 00 has exactly four fields
      `00-${trace.toUpperCase()}-${span}-01`, // uppercase hex
      `00-${trace}-${span}`,
      'garbage',
      42,
      undefined,
    ]) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });

  test('tracestate: kept when every member is valid (at most 32), dropped otherwise', () => {
    assert.equal(
      parseTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE'),
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    assert.equal(parseTracestate('tenant@vendor=x'), 'tenant@vendor=x');
    assert.equal(parseTracestate('Bad=1'), undefined);
    assert.equal(parseTracestate('a=b=c'), undefined);
    assert.equal(parseTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
  });

  test('header and extension: one trace → the header (the nearer hop); two traces → the event’s, the header’s to link', () => {
    const other = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    const ext = (value: string) => new Map([['traceparent', value]]);
    const nearer = `00-${trace}-${'3'.repeat(16)}-01`;
    assert.deepEqual(extractContext({ traceparent }), { parent: parseTraceparent(traceparent) });
    assert.deepEqual(extractContext({}, ext(traceparent)), { parent: parseTraceparent(traceparent) });
    assert.deepEqual(extractContext({ traceparent: nearer }, ext(traceparent)), { parent: parseTraceparent(nearer) });
    assert.deepEqual(extractContext({ traceparent: other }, ext(traceparent)), {
      parent: parseTraceparent(traceparent),
      other: parseTraceparent(other),
    });
    assert.deepEqual(extractContext({ traceparent: 'broken' }, ext(traceparent)), {
      parent: parseTraceparent(traceparent),
    });
    assert.deepEqual(extractContext({}, new Map()), {});
  });
});

describe('samplers', () => {
  test('ratio sampling decides from the trace id alone, and keeps about the ratio', () => {
    const decide = ratioSampler(0.25);
    let kept = 0;
    for (let i = 0; i < 4000; i++) {
      const id =
        (i * 2654435761).toString(16).padStart(16, '0').slice(-16) +
        Math.floor(Math.random() * 2 ** 32)
          .toString(16)
          .padStart(8, '0') +
        i.toString(16).padStart(8, '0');
      if (decide(id)) kept++;
      assert.equal(decide(id), decide(id));
    }
    assert.ok(kept > 800 && kept < 1200, `kept ${kept} of 4000 at 0.25`);
    assert.equal(ratioSampler(0)('f'.repeat(32)), false);
    assert.equal(ratioSampler(1)('f'.repeat(32)), true);
  });

  test('parent-based samplers follow the caller’s sampled flag; the others ignore it', () => {
    const sampled = parseTraceparent(traceparent);
    const unsampled = parseTraceparent(`00-${trace}-${span}-00`);
    const pb = createSampler('parentbased_traceidratio', 0);
    assert.equal(pb(trace, sampled), true);
    assert.equal(pb(trace, unsampled), false);
    assert.equal(pb(trace, undefined), false, 'a root at ratio 0');
    assert.equal(createSampler('parentbased_always_on', 1)(trace, unsampled), false);
    assert.equal(createSampler('always_on', 1)(trace, unsampled), true);
    assert.equal(createSampler('always_off', 1)(trace, sampled), false);
  });
});

describe('OTEL_* configuration', () => {
  const defaults = { service: 'trades-handler', role: 'handler', revision: 'trades-handler-00001', version: '1.2.3' };

  test('off unless an endpoint is set, and OTEL_SDK_DISABLED wins', async () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(
      tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }),
      false,
    );
    const log = { warn: () => {}, info: () => {} };
    assert.equal(await openTracing({}, { log, service: 's', role: 'handler' }), noopTracing);
  });

  test('the base endpoint gets /v1/traces, the traces endpoint is used as it is; service.name from K_SERVICE unless OTEL_SERVICE_NAME', () => {
    const c = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.observability:4318/' }, defaults);
    assert.equal(c.url, 'http://collector.observability:4318/v1/traces');
    assert.equal(c.sampler, 'parentbased_always_on');
    assert.equal(c.ratio, 1);
    assert.equal(c.resource['service.name'], 'trades-handler');
    assert.equal(c.resource['service.version'], '1.2.3');
    assert.deepEqual(c.batch, {
      scheduleDelayMs: 5000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      exportTimeoutMs: 30000,
    });
    const d = parseTracingConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector:4318/custom/path',
        OTEL_SERVICE_NAME: 'trades',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=overridden',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.01',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=a',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=b',
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
      },
      defaults,
    );
    assert.equal(d.url, 'https://collector:4318/custom/path');
    assert.equal(d.resource['service.name'], 'trades');
    assert.equal(d.resource['deployment.environment.name'], 'prod');
    assert.deepEqual([d.sampler, d.ratio], ['parentbased_traceidratio', 0.01]);
    assert.deepEqual(d.headers, { authorization: 'Bearer abc', 'x-tenant': 'b' });
    assert.equal(d.batch.maxExportBatchSize, 100, 'a batch is never larger than the queue');
  });

  test('every wrong value at once, naming the variable; header values (credentials) never quoted', () => {
    assert.throws(
      () =>
        parseTracingConfig(
          {
            OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
            OTEL_TRACES_SAMPLER: 'sometimes',
            OTEL_TRACES_SAMPLER_ARG: '1.5',
            OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
            OTEL_EXPORTER_OTLP_HEADERS: 'secret-token-without-key',
            OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
          },
          defaults,
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const name of [
          'OTEL_EXPORTER_OTLP_ENDPOINT',
          'OTEL_TRACES_SAMPLER:',
          'OTEL_TRACES_SAMPLER_ARG',
          'OTEL_EXPORTER_OTLP_PROTOCOL',
          'OTEL_EXPORTER_OTLP_HEADERS',
          'OTEL_BSP_MAX_QUEUE_SIZE',
        ])
          assert.match(text, new RegExp(name));
        assert.doesNotMatch(text, /secret-token/);
        return true;
      },
    );
  });
});

describe('batch queue', () => {
  test('bounded while the collector hangs: spans beyond the queue are dropped and counted, never held', async () => {
    const dropped: Record<string, number> = {};
    let exported = 0;
    // The batch's own timers never keep a process alive (unref); this one keeps the test's alive meanwhile.
    const alive = setInterval(() => {}, 1000);
    const pending: Array<(ok: boolean) => void> = [];
    const exporter = { export: () => new Promise<boolean>((resolve) => pending.push((ok) => resolve(ok))) };
    const batch = new BatchProcessor(
      exporter,
      { scheduleDelayMs: 1, maxQueueSize: 10, maxExportBatchSize: 5, exportTimeoutMs: 1000 },
      {
        exported: (n) => (exported += n),
        dropped: (reason, n) => (dropped[reason] = (dropped[reason] ?? 0) + n),
      },
    );
    const fake = {} as FinishedSpan;
    for (let i = 0; i < 5; i++) batch.onEnd(fake);
    await waitFor(() => pending.length === 1, 2000, { what: 'the first export to start' });
    // The export hangs: the queue fills to its bound, the rest is dropped at once.
    for (let i = 0; i < 1000; i++) {
      batch.onEnd(fake);
      assert.ok(batch.queued <= 10);
    }
    assert.equal(batch.queued, 10);
    assert.equal(dropped.queue_full, 990);
    pending.shift()!(false);
    await waitFor(() => dropped.export_failed === 5, 2000, { what: 'the failed batch to be counted' });
    // The collector comes back: the queued spans go out; a shutdown exports what is left and then refuses more.
    await waitFor(() => pending.length === 1, 2000, { what: 'the next export' });
    pending.shift()!(true);
    await waitFor(() => pending.length === 1, 2000, { what: 'the last export' });
    pending.shift()!(true);
    await batch.shutdown(1000);
    assert.equal(exported, 10);
    batch.onEnd(fake);
    assert.equal(dropped.shutdown, 1);
    clearInterval(alive);
  });

  test('shutdown gives up at its deadline and counts what it could not export', async () => {
    const dropped: Record<string, number> = {};
    const batch = new BatchProcessor(
      { export: () => new Promise<boolean>(() => {}) },
      { scheduleDelayMs: 60_000, maxQueueSize: 100, maxExportBatchSize: 10, exportTimeoutMs: 60_000 },
      {
        exported: () => {},
        dropped: (reason, n) => (dropped[reason] = (dropped[reason] ?? 0) + n),
      },
    );
    for (let i = 0; i < 25; i++) batch.onEnd({} as FinishedSpan);
    const started = performance.now();
    await batch.shutdown(200);
    const took = performance.now() - started;
    assert.ok(took >= 150 && took < 2000, `took ${took} ms`);
    assert.equal(dropped.shutdown, 15, 'the batch in flight is the exporter’s; the 15 still queued are dropped');
  });
});

describe('lazy loading', () => {
  test('outside runtime/tracing only the pass-through core is imported statically; the recording side only by index.ts, dynamically', () => {
    const root = fileURLToPath(new URL('../runtime/', import.meta.url));
    const core = new Set(['index', 'context', 'hops', 'dead-letter', 'replay']);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) =>
        statSync(join(dir, name)).isDirectory()
          ? files(join(dir, name))
          : name.endsWith('.ts')
            ? [join(dir, name)]
            : [],
      );
    const staticImport = /^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm;
    for (const file of files(root)) {
      const inTracing = file.includes('/runtime/tracing/');
      const source = readFileSync(file, 'utf8');
      for (const [, spec] of source.matchAll(staticImport)) {
        const name =
          /tracing\/([a-z-]+)\.js$/.exec(spec!)?.[1] ??
          (inTracing && spec!.startsWith('./') ? spec!.slice(2, -3) : undefined);
        if (name === undefined) continue;
        if (!inTracing || core.has(file.replace(/^.*\/tracing\/([a-z-]+)\.ts$/, '$1'))) {
          assert.ok(
            core.has(name),
            `${file.slice(root.length)} imports tracing/${name} statically: only ${[...core].join(', ')} may be loaded with tracing off`,
          );
        }
      }
    }
    assert.match(readFileSync(join(root, 'tracing/index.ts'), 'utf8'), /await import\('\.\/sdk\.js'\)/);
  });
});
