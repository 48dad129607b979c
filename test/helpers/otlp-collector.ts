// A small OTLP/HTTP receiver on loopback standing in for an OpenTelemetry collector (there is none here): it
// takes POST /v1/traces with a protobuf body, decodes it with protobufjs and the official OTLP .proto files
// (local/otlp-decode.ts, with local/opentelemetry-proto copied from open-telemetry/opentelemetry-proto), and keeps the spans
// for assertions. Decoding with the real definitions, not the runtime's own encoder, is what makes the
// export test a check of the wire format. It can be told to answer an error or to stop answering (down).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDecoder, type ReceivedSpan } from '../../local/otlp-decode.js';
import { waitFor } from './wait.js';

export type { AnyValue, ReceivedSpan } from '../../local/otlp-decode.js';

export interface OtlpCollector {
  /** The base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT): spans go to <url>/v1/traces. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders; spans: number }>;
  /** `status`: answer that to every export; `down`: accept the connection and never answer. */
  setMode(mode: { status: number } | 'down'): void;
  waitForSpans(
    predicate: (spans: ReceivedSpan[]) => boolean,
    what: string,
    deadlineMs?: number,
  ): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const decode = createDecoder();
  const spans: ReceivedSpan[] = [];
  const requests: OtlpCollector['requests'] = [];
  let mode: { status: number } | 'down' = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'down') return; // never answers: the exporter's timeout decides
      const body = Buffer.concat(chunks);
      let decoded: ReceivedSpan[] = [];
      if (mode.status === 200) {
        if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
          res.writeHead(415).end();
          return;
        }
        decoded = decode(body);
        spans.push(...decoded);
      }
      requests.push({ path: req.url ?? '', headers: req.headers, spans: decoded.length });
      res.writeHead(mode.status, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    setMode: (next) => {
      mode = next;
    },
    waitForSpans: (predicate, what, deadlineMs = 10_000) =>
      waitFor(() => (predicate(spans) ? spans : undefined), deadlineMs, {
        what,
        context: () =>
          spans.map(
            (s) =>
              `${s.name} ${s.kind} ${s.traceId.slice(0, 8)}/${s.spanId.slice(0, 6)}<-${s.parentSpanId.slice(0, 6)}`,
          ),
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
