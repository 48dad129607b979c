// Ended spans → an OTLP ExportTraceServiceRequest in protobuf (opentelemetry-proto, collector/trace/v1 and
// trace/v1; field numbers below are the .proto's). Written by hand, not with protobufjs: the messages are
// few and fixed, and a generic protobuf runtime would be most of tracing's cost at start-up. The tests decode
// what this writes with protobufjs and the official .proto files (test/fixtures/opentelemetry-proto).
import type { AttributeValue, SpanKind } from './index.js';
import type { FinishedSpan } from './span.js';

/** A protobuf writer: fields appended to chunks; a nested message is written apart, then length-prefixed. */
class Writer {
  private readonly chunks: Buffer[] = [];
  length = 0;

  private push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }

  private varint(n: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(n));
    const bytes: number[] = [];
    while (v > 0x7fn) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.push(Buffer.from(bytes));
  }

  private smallVarint(n: number): void {
    // Tags and lengths: non-negative and below 2^31, without BigInt.
    const bytes: number[] = [];
    while (n > 0x7f) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    this.push(Buffer.from(bytes));
  }

  private tag(field: number, wireType: number): void {
    this.smallVarint((field << 3) | wireType);
  }

  uint(field: number, n: number): this {
    if (n !== 0) {
      this.tag(field, 0);
      this.smallVarint(n);
    }
    return this;
  }

  int64(field: number, n: number): this {
    this.tag(field, 0);
    this.varint(n);
    return this;
  }

  bool(field: number, b: boolean): this {
    this.tag(field, 0);
    this.smallVarint(b ? 1 : 0);
    return this;
  }

  double(field: number, d: number): this {
    const buf = Buffer.alloc(8);
    buf.writeDoubleLE(d);
    this.tag(field, 1);
    this.push(buf);
    return this;
  }

  fixed64(field: number, n: bigint): this {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(n);
    this.tag(field, 1);
    this.push(buf);
    return this;
  }

  fixed32(field: number, n: number): this {
    const buf = Buffer.alloc(4);
    buf.writeUInt32LE(n >>> 0);
    this.tag(field, 5);
    this.push(buf);
    return this;
  }

  bytes(field: number, buf: Buffer): this {
    this.tag(field, 2);
    this.smallVarint(buf.length);
    this.push(buf);
    return this;
  }

  string(field: number, s: string | undefined): this {
    return s === undefined || s === '' ? this : this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** Always written, even when empty (an empty repeated message still counts). */
  message(field: number, write: (w: Writer) => void): this {
    const inner = new Writer();
    write(inner);
    this.tag(field, 2);
    this.smallVarint(inner.length);
    for (const chunk of inner.chunks) this.push(chunk);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

const kinds: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

/** Epoch milliseconds (with fractions) → nanoseconds, exactly enough for a fixed64. */
function nanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

function anyValue(w: Writer, value: AttributeValue): void {
  if (typeof value === 'string') w.string(1, value.length === 0 ? undefined : value);
  else if (typeof value === 'boolean') w.bool(2, value);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) w.int64(3, value);
    else w.double(4, value);
  } else w.message(5, (array) => value.forEach((item) => array.message(1, (v) => anyValue(v, item))));
}

function keyValues(w: Writer, field: number, attributes: ReadonlyMap<string, AttributeValue> | Iterable<[string, AttributeValue]>): void {
  for (const [key, value] of attributes) w.message(field, (kv) => kv.string(1, key).message(2, (v) => anyValue(v, value)));
}

const id = (hex: string) => Buffer.from(hex, 'hex');

function span(w: Writer, s: FinishedSpan): void {
  w.bytes(1, id(s.context.traceId)).bytes(2, id(s.context.spanId)).string(3, s.context.traceState);
  if (s.parentSpanId) w.bytes(4, id(s.parentSpanId));
  w.string(5, s.name)
    .uint(6, kinds[s.kind])
    .fixed64(7, nanos(s.start))
    .fixed64(8, nanos(s.endTime));
  keyValues(w, 9, s.attributes);
  w.uint(10, s.droppedAttributes);
  for (const e of s.events) w.message(11, (ev) => {
    ev.fixed64(1, nanos(e.time)).string(2, e.name);
    keyValues(ev, 3, e.attributes);
    ev.uint(4, e.droppedAttributes);
  });
  w.uint(12, s.droppedEvents);
  for (const l of s.links) w.message(13, (lw) => {
    lw.bytes(1, id(l.context.traceId)).bytes(2, id(l.context.spanId)).string(3, l.context.traceState);
    keyValues(lw, 4, l.attributes);
    lw.uint(5, l.droppedAttributes);
    // SpanFlags: the W3C trace flags in the low byte, plus "is the parent remote known" (0x100) and remote (0x200).
    lw.fixed32(6, (l.context.traceFlags & 0xff) | 0x300);
  });
  w.uint(14, s.droppedLinks);
  if (s.status.code === 'error') w.message(15, (st) => st.string(2, s.status.message).uint(3, 2));
  // Flags: W3C trace flags, and whether the parent is known to be remote (0x100) and is (0x200): a parent
  // we did not create in this process came over the wire.
  w.fixed32(16, (s.context.traceFlags & 0xff) | 0x100 | (s.parentSpanId !== undefined && s.kind !== 'internal' && s.kind !== 'producer' ? 0x200 : 0));
}

export interface Scope {
  readonly name: string;
  readonly version?: string;
}

/** One request: one resource, one instrumentation scope, the spans. */
export function encodeTraces(resource: Readonly<Record<string, string>>, scope: Scope, spans: readonly FinishedSpan[]): Buffer {
  return new Writer()
    .message(1, (rs) => {
      rs.message(1, (r) => keyValues(r, 1, Object.entries(resource)));
      rs.message(2, (ss) => {
        ss.message(1, (sc) => sc.string(1, scope.name).string(2, scope.version));
        for (const s of spans) ss.message(2, (sw) => span(sw, s));
      });
    })
    .finish();
}
