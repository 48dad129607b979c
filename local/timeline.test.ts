// The timeline's reading of spans: a service processing one publish twice is a retry (attempt 1, 2), two
// services processing it are the triggers' fan-out (no attempts); a replay is its own block after the event's
// trace, saying what it replays and linking back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReceivedSpan } from './otlp-decode.js';
import { formatTimeline } from './timeline.js';

const t0 = 1_764_000_000_000_000_000n;
let next = 0;
function span(
  p: Partial<ReceivedSpan> & { name: string; service: string; at: number; parent?: string; trace?: string },
): ReceivedSpan {
  const spanId = (++next).toString(16).padStart(16, '0');
  return {
    traceId: p.trace ?? 'a'.repeat(32),
    spanId,
    parentSpanId: p.parent ?? '',
    traceState: '',
    name: p.name,
    kind: p.kind ?? 'internal',
    startNs: t0 + BigInt(p.at * 1e6),
    endNs: t0 + BigInt((p.at + 1) * 1e6),
    attributes: p.attributes ?? {},
    events: [],
    links: p.links ?? [],
    status: p.status ?? { code: 0, message: '' },
    flags: 0,
    resource: { 'service.name': p.service },
    scope: 'knative-events',
  };
}

test('retries, fan-out, the dead letter and a replay', () => {
  const receive = span({
    name: 'receive',
    service: 'handler',
    kind: 'server',
    at: 0,
    attributes: { 'cloudevents.event_id': 'e-1', 'http.response.status_code': 202 },
  });
  const publish = span({
    name: 'publish broker',
    service: 'handler',
    kind: 'producer',
    at: 1,
    parent: receive.spanId,
    attributes: { 'http.request.resend_count': 1 },
  });
  const failed = { code: 2, message: 'boom' };
  const spans = [
    receive,
    publish,
    span({
      name: 'process f',
      service: 'worker',
      kind: 'consumer',
      at: 5,
      parent: publish.spanId,
      status: failed,
      attributes: { 'error.type': 'function_error', 'http.response.status_code': 500 },
    }),
    span({
      name: 'process f',
      service: 'worker',
      kind: 'consumer',
      at: 9,
      parent: publish.spanId,
      status: failed,
      attributes: { 'error.type': 'function_error', 'http.response.status_code': 500 },
    }),
    span({ name: 'process g', service: 'audit', kind: 'consumer', at: 6, parent: publish.spanId }),
    span({
      name: 'receive dead-letter',
      service: 'dlq',
      kind: 'consumer',
      at: 12,
      parent: publish.spanId,
      attributes: { knativeerrordest: 'http://worker/', knativeerrorcode: 500 },
    }),
    span({
      name: 'publish destination',
      service: 'dlq',
      kind: 'producer',
      at: 50,
      trace: 'b'.repeat(32),
      links: [{ traceId: 'a'.repeat(32), spanId: publish.spanId, attributes: { 'knative_events.link': 'replay-of' } }],
      attributes: { 'knative_events.replay.id': 'r-1', 'knative_events.dead_letter.id': 'd-1' },
    }),
  ];
  const text = formatTimeline('e-1', spans);
  const lines = text.split('\n');
  assert.equal(lines[0], 'event e-1');
  assert.match(
    text,
    /trace a{32} \(6 spans\)[\s\S]*replay trace b{32} \(1 span\)/,
    'the event’s trace first, then the replay',
  );
  assert.match(text, /publish broker .*PRODUCER .*1 retry/);
  const worker = lines.filter((l) => l.includes('process f'));
  assert.match(worker[0]!, /CONSUMER\s+500 ERROR function_error\s+attempt 1$/);
  assert.match(worker[1]!, /attempt 2$/);
  assert.doesNotMatch(
    lines.find((l) => l.includes('process g'))!,
    /attempt/,
    'another service is fan-out, not a retry',
  );
  assert.match(text, /receive dead-letter .*dead letter: http:\/\/worker\/ answered 500/);
  assert.match(
    text,
    /publish destination .*replay r-1 of dead letter d-1; → linked to trace aaaaaaaa… span 0{8}… \(replay-of\)/,
  );
  // Spans in start order under their parent, with offsets from the trace's start.
  const order = ['process f', 'process g', 'process f', 'receive dead-letter'].map((name, i, all) =>
    lines.findIndex((l, at) => l.includes(name) && (i === 0 || at > lines.findIndex((x) => x.includes(all[i - 1]!)))),
  );
  assert.ok(
    order.every((at) => at > 0),
    text,
  );
  assert.match(
    lines.find((l) => l.includes('receive dead-letter'))!,
    /^\s+\+12\.0 ms/,
  );
});
