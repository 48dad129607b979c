// OTLP/HTTP with protobuf bodies (opentelemetry.io/docs/specs/otlp/#otlphttp): one POST per batch to the traces
// endpoint, with OTEL_EXPORTER_OTLP_HEADERS, answered 2xx on success. Over the runtime's own keep-alive
// client (events/http-client.ts), a pool of its own so exports never queue behind events. Failures are logged
// once per outage (not per batch: a collector down for an hour would flood the log) and reported as false.
import { createHttpPoster } from '../events/http-client.js';
import type { SpanExporter } from './batch.js';
import type { TracingConfig } from './config.js';
import { encodeTraces, type Scope } from './otlp.js';
import type { TracingIo } from './index.js';

export interface OtlpExporter extends SpanExporter {
  close(): Promise<void>;
}

export function createOtlpExporter(config: TracingConfig, scope: Scope, log: TracingIo['log']): OtlpExporter {
  const poster = createHttpPoster({ maxSockets: 2 });
  const headers = { ...config.headers, 'content-type': 'application/x-protobuf' };
  let failing = false;
  return {
    async export(spans, timeoutMs) {
      let why: string;
      try {
        const body = encodeTraces(config.resource, scope, spans);
        const res = await poster.post(config.url, headers, body, Math.min(timeoutMs, config.exportTimeoutMs));
        if (res.status >= 200 && res.status < 300) {
          if (failing) log.info({ url: config.url }, 'trace export works again');
          failing = false;
          return true;
        }
        why = `status ${res.status}`;
      } catch (err) {
        why = (err as { code?: string }).code ?? (err as Error).message;
      }
      if (!failing)
        log.warn(
          { url: config.url, spans: spans.length, why },
          'trace export failed; spans are dropped (counted in knative_events_trace_spans_dropped_total) until it works again',
        );
      failing = true;
      return false;
    },
    close: () => poster.close(),
  };
}
