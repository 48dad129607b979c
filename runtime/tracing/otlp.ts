// Ended spans → an OTLP ExportTraceServiceRequest in protobuf (opentelemetry-proto, collector/trace/v1 and
// trace/v1; field numbers below are the .proto's). Written by hand, not with protobufjs: the messages are
// few and fixed, and a generic protobuf runtime would be most of tracing's cost at start-up. The tests decode
// what this writes with protobufjs and the official .proto files (local/opentelemetry-proto, through local/otlp-decode.ts).
import type { AttributeValue, SpanKind } from './index.js';
import type { FinishedSpan } from './span.js';

/**
 * A protobuf writer over one growing buffer. A nested message is written in place after a one-byte length
 * placeholder; when it turns out 128 bytes or longer, its bytes are moved up to make room for the longer
 * length (rare: most nested messages here are one attribute). No intermediate buffers, no BigInt but for
 * the timestamps: measured at ~185 µs per span with a buffer per field, a few µs like this.
 */
class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** A non-negative integer below 2^53 as a varint. */
  private varint(n: number): void {
    this.ensure(10);
    while (n > 0x7f) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  uint(field: number, n: number): this {
    if (n !== 0) {
      this.tag(field, 0);
      this.varint(n);
    }
    return this;
  }

  int64(field: number, n: number): this {
    this.tag(field, 0);
    if (n >= 0) this.varint(n);
    else {
      // Two's complement over 64 bits: ten bytes.
      let v = BigInt.asUintN(64, BigInt(n));
      this.ensure(10);
      while (v > 0x7fn) {
        this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buf[this.pos++] = Number(v);
    }
    return this;
  }

  bool(field: number, b: boolean): this {
    this.tag(field, 0);
    this.varint(b ? 1 : 0);
    return this;
  }

  double(field: number, d: number): this {
    this.tag(field, 1);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(d, this.pos);
    return this;
  }

  fixed64(field: number, n: bigint): this {
    this.tag(field, 1);
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64LE(n, this.pos);
    return this;
  }

  fixed32(field: number, n: number): this {
    this.tag(field, 5);
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(n >>> 0, this.pos);
    return this;
  }

  /** Bytes given as hex (trace and span ids). */
  hexBytes(field: number, hex: string): this {
    this.tag(field, 2);
    this.varint(hex.length / 2);
    this.ensure(hex.length / 2);
    this.pos += this.buf.write(hex, this.pos, 'hex');
    return this;
  }

  string(field: number, s: string | undefined): this {
    if (s === undefined || s === '') return this;
    const length = Buffer.byteLength(s);
    this.tag(field, 2);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  /** Always written, even when empty (an empty repeated message still counts). */
  message(field: number, write: (w: Writer) => void): this {
    this.tag(field, 2);
    this.ensure(1);
    const lengthAt = this.pos++;
    write(this);
    const length = this.pos - lengthAt - 1;
    if (length < 0x80) {
      this.buf[lengthAt] = length;
      return this;
    }
    let extra = 0;
    for (let n = length; n > 0x7f; n = Math.floor(n / 0x80)) extra++;
    this.ensure(extra);
    this.buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, this.pos);
    const end = this.pos + extra;
    this.pos = lengthAt;
    this.varint(length);
    this.pos = end;
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
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

function keyValues(
  w: Writer,
  field: number,
  attributes: ReadonlyMap<string, AttributeValue> | Iterable<[string, AttributeValue]>,
): void {
  for (const [key, value] of attributes)
    w.message(field, (kv) => kv.string(1, key).message(2, (v) => anyValue(v, value)));
}

function span(w: Writer, s: FinishedSpan): void {
  w.hexBytes(1, s.context.traceId).hexBytes(2, s.context.spanId).string(3, s.context.traceState);
  if (s.parentSpanId) w.hexBytes(4, s.parentSpanId);
  w.string(5, s.name).uint(6, kinds[s.kind]).fixed64(7, nanos(s.start)).fixed64(8, nanos(s.endTime));
  keyValues(w, 9, s.attributes);
  w.uint(10, s.droppedAttributes);
  for (const e of s.events)
    w.message(11, (ev) => {
      ev.fixed64(1, nanos(e.time)).string(2, e.name);
      keyValues(ev, 3, e.attributes);
      ev.uint(4, e.droppedAttributes);
    });
  w.uint(12, s.droppedEvents);
  for (const l of s.links)
    w.message(13, (lw) => {
      lw.hexBytes(1, l.context.traceId).hexBytes(2, l.context.spanId).string(3, l.context.traceState);
      keyValues(lw, 4, l.attributes);
      lw.uint(5, l.droppedAttributes);
      // SpanFlags: the W3C trace flags in the low byte, plus "is the parent remote known" (0x100) and remote (0x200).
      lw.fixed32(6, (l.context.traceFlags & 0xff) | 0x300);
    });
  w.uint(14, s.droppedLinks);
  if (s.status.code === 'error') w.message(15, (st) => st.string(2, s.status.message).uint(3, 2));
  // Flags: W3C trace flags, and whether the parent is known to be remote (0x100) and is (0x200): a parent
  // we did not create in this process came over the wire.
  w.fixed32(
    16,
    (s.context.traceFlags & 0xff) |
      0x100 |
      (s.parentSpanId !== undefined && s.kind !== 'internal' && s.kind !== 'producer' ? 0x200 : 0),
  );
}

export interface Scope {
  readonly name: string;
  readonly version?: string;
}

/** One request: one resource, one instrumentation scope, the spans. */
export function encodeTraces(
  resource: Readonly<Record<string, string>>,
  scope: Scope,
  spans: readonly FinishedSpan[],
): Buffer {
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
