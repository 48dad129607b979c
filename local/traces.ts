// The local runner's trace store: an OTLP/HTTP endpoint on loopback that every service of `npm start` exports
// its spans to (OTEL_EXPORTER_OTLP_ENDPOINT, see `traceEnv`), keeping them in memory for `npm run trace`. Bounded:
// past `maxSpans` the oldest go. When the values file sets an endpoint of its own (tracing.endpoint), each
// export is also forwarded there as it came, so a real collector sees the same spans.
//
//   POST /v1/traces          an OTLP export (protobuf), answered 200
//   GET  /traces?event=<id>  the spans of every trace with a span for that event, and of the replays linked to them
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDecoder, type ReceivedSpan } from './otlp-decode.js';

export interface TraceStore {
  readonly url: string;
  /** A span recorded in this process (the local broker's). */
  add(span: ReceivedSpan): void;
  /** The spans of the traces an event appears in, and of the traces linked to them (replays). */
  forEvent(eventId: string): ReceivedSpan[];
  close(): Promise<void>;
}

/** Env for a service that exports to the store: batches after 200 ms, so a trace shows up while you look. */
export function traceEnv(store: { url: string }): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: store.url, OTEL_BSP_SCHEDULE_DELAY: '200' };
}

/** Every trace an event's spans are in, plus the traces whose spans link to one of them (replays), transitively. */
export function spansForEvent(spans: readonly ReceivedSpan[], eventId: string): ReceivedSpan[] {
  const traces = new Set(spans.filter((s) => s.attributes['cloudevents.event_id'] === eventId).map((s) => s.traceId));
  for (let grew = true; grew;) {
    grew = false;
    for (const s of spans) {
      if (!traces.has(s.traceId) && s.links.some((l) => traces.has(l.traceId))) {
        traces.add(s.traceId);
        grew = true;
      }
    }
  }
  return spans.filter((s) => traces.has(s.traceId));
}

function forward(url: string, body: Buffer): void {
  const req = request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-length': String(body.length) },
    timeout: 5000,
  });
  req.on('error', () => {}); // best effort: the local store has the spans either way
  req.on('timeout', () => req.destroy());
  req.end(body);
}

export async function startTraceStore(
  options: { host?: string; port?: number; maxSpans?: number; forwardTo?: string } = {},
): Promise<TraceStore> {
  const decode = createDecoder();
  const maxSpans = options.maxSpans ?? 100_000;
  let spans: ReceivedSpan[] = [];
  const forwardUrl = options.forwardTo ? `${options.forwardTo.replace(/\/+$/, '')}/v1/traces` : undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (req.method === 'GET' && url.pathname === '/traces') {
        const event = url.searchParams.get('event') ?? '';
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify(spansForEvent(spans, event), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
          );
        return;
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      try {
        spans.push(...decode(body));
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (spans.length > maxSpans) spans = spans.slice(spans.length - maxSpans);
      if (forwardUrl) forward(forwardUrl, body);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    add: (span) => {
      spans.push(span);
      if (spans.length > maxSpans) spans.shift();
    },
    forEvent: (eventId) => spansForEvent(spans, eventId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
