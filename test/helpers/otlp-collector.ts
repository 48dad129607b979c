// A small OTLP/HTTP receiver on loopback standing in for an OpenTelemetry collector (there is none here): it
// takes POST /v1/traces with a protobuf body, decodes it with protobufjs and the official OTLP .proto files
// (test/fixtures/opentelemetry-proto, copied from open-telemetry/opentelemetry-proto), and keeps the spans
// for assertions. Decoding with the real definitions, not the runtime's own encoder, is what makes the
// export test a check of the wire format. It can be told to answer an error or to stop answering (down).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { waitFor } from './wait.js';

const protoRoot = fileURLToPath(new URL('../fixtures/opentelemetry-proto/', import.meta.url));

function loadRequestType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : protoRoot + target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

export type AnyValue = string | number | boolean | AnyValue[] | undefined;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  /** SPAN_KIND_* without the prefix, lowercased: server, client, producer, consumer, internal. */
  readonly kind: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Record<string, AnyValue>;
  readonly events: Array<{ name: string; attributes: Record<string, AnyValue> }>;
  readonly links: Array<{ traceId: string; spanId: string; attributes: Record<string, AnyValue> }>;
  readonly status: { code: number; message: string };
  readonly flags: number;
  readonly resource: Record<string, AnyValue>;
  readonly scope: string;
}

export interface OtlpCollector {
  /** The base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT): spans go to <url>/v1/traces. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders; spans: number }>;
  /** `status`: answer that to every export; `down`: accept the connection and never answer. */
  setMode(mode: { status: number } | 'down'): void;
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, what: string, deadlineMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

const kindNames = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '');

interface DecodedValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: { toString(): string } | number;
  doubleValue?: number;
  arrayValue?: { values?: DecodedValue[] };
}

function value(v: DecodedValue | undefined): AnyValue {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue.toString());
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

const attrs = (list: Array<{ key: string; value?: DecodedValue }> | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
const ns = (n: { toString(): string } | number | undefined) => BigInt(n === undefined ? 0 : n.toString());

/* eslint-disable @typescript-eslint/no-explicit-any -- the decoded message is checked field by field below */
function spansOf(message: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of message.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState ?? '',
          name: s.name,
          kind: kindNames[s.kind ?? 0] ?? String(s.kind),
          startNs: ns(s.startTimeUnixNano),
          endNs: ns(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attrs(e.attributes) })),
          links: (s.links ?? []).map((l: any) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), attributes: attrs(l.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          flags: s.flags ?? 0,
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const type = loadRequestType();
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
        decoded = spansOf(type.toObject(type.decode(body), { defaults: false }));
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
      waitFor(() => (predicate(spans) ? spans : undefined), deadlineMs, { what, context: () => spans.map((s) => `${s.name} ${s.kind} ${s.traceId.slice(0, 8)}/${s.spanId.slice(0, 6)}<-${s.parentSpanId.slice(0, 6)}`) }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
