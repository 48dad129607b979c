// Tracing on: spans are sampled, recorded within limits, batched and exported over OTLP/HTTP. Imported by
// index.ts only when an endpoint is set. Unsampled spans are not recorded at all: they carry a fresh span id
// with the sampled flag off, so the hops after us make the same choice (parent-based sampling).
import { randomFillSync } from 'node:crypto';
import { BatchProcessor } from './batch.js';
import { parseTracingConfig } from './config.js';
import type { SpanContext } from './context.js';
import { createOtlpExporter } from './exporter.js';
import { nowMs, type Span, type SpanOptions, type Tracing, type TracingIo, type TracingObserver } from './index.js';
import { createSampler } from './sampler.js';
import { RecordingSpan } from './span.js';

// Ids from a pool of random bytes refilled 4 KiB at a time: one getrandom call per ~170 spans.
const pool = Buffer.alloc(4096);
let used = pool.length;
const zeros: Record<number, string> = { 8: '0'.repeat(16), 16: '0'.repeat(32) };
function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const hex = pool.toString('hex', used, (used += bytes));
    if (hex !== zeros[bytes]) return hex; // all-zero ids are invalid
  }
}

class UnsampledSpan implements Span {
  readonly recording = false;
  constructor(readonly context: SpanContext) {}
  setAttribute(): void {}
  setAttributes(): void {}
  addEvent(): void {}
  fail(): void {}
  end(): void {}
}

async function observerFor(io: TracingIo): Promise<TracingObserver> {
  if (!io.registry) return { exported: () => {}, dropped: () => {} };
  const { tracingMetrics } = await import('./metrics.js');
  return tracingMetrics(io.registry);
}

export async function createTracing(
  env: Readonly<Record<string, string | undefined>>,
  io: TracingIo,
): Promise<Tracing> {
  const config = parseTracingConfig(env, {
    service: io.service,
    role: io.role,
    revision: io.revision,
    version: io.version,
  });
  const sample = createSampler(config.sampler, config.ratio);
  const observer = await observerFor(io);
  const exporter = createOtlpExporter(config, { name: 'knative-events', version: io.version }, io.log);
  const batch = new BatchProcessor(exporter, config.batch, observer);
  const onEnd = (span: RecordingSpan) => batch.onEnd(span);
  io.log.info(
    { url: config.url, sampler: config.sampler, ratio: config.ratio, service: config.resource['service.name'] },
    'tracing on: spans exported over OTLP/HTTP',
  );

  return {
    enabled: true,
    startSpan(name: string, options: SpanOptions = {}): Span {
      const parent = options.root ? undefined : options.parent;
      const traceId = parent?.traceId ?? randomHex(16);
      const sampled = sample(traceId, parent);
      const context: SpanContext = {
        traceId,
        spanId: randomHex(8),
        traceFlags: sampled ? 1 : 0,
        ...(parent?.traceState ? { traceState: parent.traceState } : {}),
      };
      if (!sampled) return new UnsampledSpan(context);
      const links =
        options.root && options.parent ? [{ context: options.parent }, ...(options.links ?? [])] : options.links;
      return new RecordingSpan(
        name,
        options.kind ?? 'internal',
        context,
        parent?.spanId,
        options.startTime ?? nowMs(),
        config.limits,
        onEnd,
        options.attributes,
        links,
      );
    },
    async shutdown(timeoutMs) {
      await batch.shutdown(timeoutMs);
      await exporter.close();
    },
  };
}
