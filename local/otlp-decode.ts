// OTLP trace exports (ExportTraceServiceRequest, protobuf) decoded with protobufjs and the official OTLP .proto
// files (local/opentelemetry-proto, copied from open-telemetry/opentelemetry-proto), into plain spans with hex
// ids. Used by the local runner's trace store (local/traces.ts) and the tests' collector stand-in; independent of
// the runtime's own encoder (runtime/tracing/otlp.ts), which is what makes it a check of the wire format.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const protoRoot = fileURLToPath(new URL('./opentelemetry-proto/', import.meta.url));

export function loadRequestType(): protobuf.Type {
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

const attrs = (list: KeyValues | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
const ns = (n: Long | undefined) => BigInt(n === undefined ? 0 : n.toString());

type KeyValues = Array<{ key: string; value?: DecodedValue }>;
type Long = { toString(): string } | number;

/** The decoded request as protobufjs's toObject() gives it (camelCase, ids as bytes, 64-bit numbers as Long). */
interface DecodedRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValues };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: DecodedSpan[] }>;
  }>;
}

interface DecodedSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  name: string;
  kind?: number;
  startTimeUnixNano?: Long;
  endTimeUnixNano?: Long;
  attributes?: KeyValues;
  events?: Array<{ name: string; attributes?: KeyValues }>;
  links?: Array<{ traceId?: Uint8Array; spanId?: Uint8Array; attributes?: KeyValues }>;
  status?: { code?: number; message?: string };
  flags?: number;
}

function spansOf(message: DecodedRequest): ReceivedSpan[] {
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
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
          links: (s.links ?? []).map((l) => ({
            traceId: hex(l.traceId),
            spanId: hex(l.spanId),
            attributes: attrs(l.attributes),
          })),
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

/** Decodes one export request body into its spans. */
export function createDecoder(): (body: Buffer) => ReceivedSpan[] {
  const type = loadRequestType();
  return (body) => spansOf(type.toObject(type.decode(body), { defaults: false }));
}
