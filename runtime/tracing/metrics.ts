// Tracing's own health in the Prometheus metrics, on the process registry: spans exported, and spans dropped
// by reason (queue_full: the collector is slower than the spans come; export_failed: it refused or was down;
// shutdown: still queued when the drain's deadline came). Loaded only when tracing and metrics are both on.
import { Counter, type Registry } from '../metrics/prom-client.js';
import { prefix } from '../metrics/definitions.js';
import type { TracingObserver } from './index.js';

export function tracingMetrics(registry: unknown): TracingObserver {
  const registers = [registry as Registry];
  const exported = new Counter({
    name: `${prefix}trace_spans_exported_total`,
    help: 'Spans the OTLP collector accepted.',
    registers,
  });
  const dropped = new Counter({
    name: `${prefix}trace_spans_dropped_total`,
    help: 'Spans not exported, by reason: queue_full (OTEL_BSP_MAX_QUEUE_SIZE reached), export_failed (the collector refused or was unreachable), shutdown (still queued at the drain deadline).',
    labelNames: ['reason'],
    registers,
  });
  // Every reason from the first scrape, at 0, so increase() sees the first drop.
  for (const reason of ['queue_full', 'export_failed', 'shutdown']) dropped.inc({ reason }, 0);
  return {
    exported: (count) => exported.inc(count),
    dropped: (reason, count) => dropped.inc({ reason }, count),
  };
}
