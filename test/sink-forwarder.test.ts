// The sink-forwarder role end to end on loopback: a real HTTP request in, the function run, CloudEvents out
// to a KafkaSink stand-in (test/helpers/receiver.ts: answers 202 like the KafkaSink ingress, or whatever a
// test scripts). Kafka and the KafkaSink data plane cannot run here; the receiver speaks their HTTP contract.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { PermanentError, type FunctionModule } from '../runtime/function-api.js';
import { buildSinkEvents, derivedEventId } from '../runtime/events/sink-event.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const trade = {
  trade_id: 'T-1001',
  instrument: { ticker: 'abc' },
  qty: 100,
  px: 12.5,
  side: 'B',
  trade_time: '2024-05-01T10:00:00Z',
  exchange: 'XNAS',
};

function binaryHeaders(id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': 'com.provider.trade',
    'ce-source': '/provider/trades',
    ...extra,
  };
}

async function post(url: string, id: string, data: unknown, extra: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: binaryHeaders(id, extra), body: JSON.stringify(data) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const open: Array<{ close?(): Promise<void>; stop?(): Promise<unknown> }> = [];
after(async () => {
  for (const thing of open.reverse()) await (thing.stop ? thing.stop() : thing.close?.());
});

async function forwarder(
  sink: Receiver,
  env: Record<string, string> = {},
  fn?: FunctionModule['default'],
): Promise<RunningRuntime> {
  const runtime = await startRuntime(
    {
      ROLE: 'sink-forwarder',
      FUNCTION: 'trade-transform',
      KAFKA_SINK_URL: sink.url,
      OUTBOUND_BACKOFF_MS: '1',
      OUTBOUND_BACKOFF_MAX_MS: '2',
      ...env,
    },
    fn ? { loadFunction: async () => ({ default: fn }) } : {},
  );
  open.push(runtime);
  return runtime;
}

async function sinkStandIn(): Promise<Receiver> {
  const sink = await startReceiver({ status: 202 });
  open.push(sink);
  return sink;
}

describe('sink-forwarder', () => {
  test('transforms a trade and writes it to the sink as one CloudEvent with a traceable id and partition key', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(sink, { SINK_PARTITION_KEY: 'subject' });
    const res = await post(runtime.url, 'evt-1', trade);
    assert.equal(res.status, 202);
    assert.equal(res.text, '', 'a 2xx to Knative carries no body that is not a CloudEvent');
    assert.equal(res.headers.get('x-forwarded-events'), '1');
    assert.equal(sink.requests.length, 1);
    const record = sink.requests[0]!;
    assert.equal(
      record.headers['ce-type'],
      'com.example.trade.normalized',
      'binary mode by default, the type the function chose',
    );
    const event = record.event!;
    assert.equal(event.source, '/knative-events/sink-forwarder');
    assert.equal(event.subject, 'T-1001');
    assert.equal(event.sourceeventid, 'evt-1');
    assert.equal(event.partitionkey, 'T-1001');
    assert.equal(event.tradeevent, 'evt-1');
    assert.equal(event.id, derivedEventId(new CloudEvent({ id: 'evt-1', source: '/provider/trades', type: 'x' }), 0));
    assert.deepEqual(event.data, {
      tradeId: 'T-1001',
      symbol: 'ABC',
      quantity: 100,
      price: 12.5,
      side: 'BUY',
      currency: 'USD',
      tradedAt: '2024-05-01T10:00:00.000Z',
      venue: 'XNAS',
      settled: false,
    });

    // Knative retrying the same delivery writes the same record again, not a different one.
    await post(runtime.url, 'evt-1', trade);
    assert.equal(sink.requests[1]!.event!.id, event.id);
    await post(runtime.url, 'evt-2', trade);
    assert.notEqual(sink.requests[2]!.event!.id, event.id);
  });

  test('structured content mode, type and source from config, a list result becomes one event per item', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(sink, {
      FUNCTION: 'echo',
      SINK_CONTENT_MODE: 'structured',
      SINK_EVENT_TYPE: 'com.example.item',
      SINK_EVENT_SOURCE: '/ours/items',
      SINK_PARTITION_KEY: 'data.key',
    });
    const res = await post(
      runtime.url,
      'list-1',
      [
        { key: 'a', n: 1 },
        { key: 'b', n: 2 },
        { key: 'c', n: 3 },
      ],
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    );
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-forwarded-events'), '3');
    assert.equal(sink.requests.length, 3);
    const events = sink.requests.map((r) => {
      assert.match(String(r.headers['content-type']), /^application\/cloudevents\+json/);
      return r.event!;
    });
    assert.deepEqual(
      events.map((e) => e.data),
      [
        { key: 'a', n: 1 },
        { key: 'b', n: 2 },
        { key: 'c', n: 3 },
      ],
    );
    assert.deepEqual(
      events.map((e) => e.partitionkey),
      ['a', 'b', 'c'],
    );
    assert.equal(new Set(events.map((e) => e.id)).size, 3);
    for (const e of events) {
      assert.equal(e.type, 'com.example.item');
      assert.equal(e.source, '/ours/items');
      assert.equal(e.sourceeventid, 'list-1');
      assert.equal(e.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
  });

  test('sink down then up: retries with backoff, answers 5xx when it stays down, and writes no duplicate once it is up', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(sink, { OUTBOUND_RETRIES: '2' });
    sink.script({ status: 503 }, { reset: true });
    const recovered = await post(runtime.url, 'flaky-1', trade);
    assert.equal(recovered.status, 202, 'two transient failures, then accepted within the retries');
    assert.equal(sink.requests.length, 3);
    assert.equal(sink.accepted().length, 1);

    sink.setFallback({ status: 503 });
    const down = await post(runtime.url, 'down-1', trade);
    assert.ok(down.status >= 500, `expected a 5xx so Knative retries, got ${down.status}`);
    assert.equal(JSON.parse(down.text).error.type, 'upstream_unavailable');
    assert.equal(sink.requests.length, 6, 'one attempt and two retries');
    assert.equal(sink.accepted().length, 1);

    sink.setFallback({ status: 202 });
    const redelivered = await post(runtime.url, 'down-1', trade);
    assert.equal(redelivered.status, 202);
    assert.equal(sink.requests.length, 7, 'one attempt on the happy path');
    assert.deepEqual(
      sink.accepted().map((r) => r.event!.sourceeventid),
      ['flaky-1', 'down-1'],
    );
  });

  test('a sink that refuses the record (400) is never answered with 2xx', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(sink, { OUTBOUND_RETRIES: '3' });
    sink.setFallback({ status: 400, body: '{"error":"bad record"}' });
    const res = await post(runtime.url, 'refused-1', trade);
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.text).error.type, 'upstream_rejected');
    assert.equal(sink.requests.length, 1, 'a 400 is not retried');
  });

  test('a function that throws answers 500 and writes nothing; a PermanentError answers its 4xx', async () => {
    const sink = await sinkStandIn();
    const throwing = await forwarder(sink, {}, () => {
      throw new Error('secret internals');
    });
    const res = await post(throwing.url, 'boom-1', trade);
    assert.equal(res.status, 500);
    assert.equal(JSON.parse(res.text).error.type, 'function_error');
    assert.doesNotMatch(res.text, /secret internals/);

    const rejecting = await forwarder(sink, {}, () => {
      throw new PermanentError('never valid', { status: 422 });
    });
    const permanent = await post(rejecting.url, 'perm-1', trade);
    assert.equal(permanent.status, 422);

    const bad = await forwarder(sink);
    const badTrade = await post(bad.url, 'bad-1', { trade_id: 'T-9', qty: 'lots' });
    assert.equal(badTrade.status, 422);
    assert.match(JSON.parse(badTrade.text).error.message, /cannot be mapped/);
    assert.equal(sink.requests.length, 0);
  });

  test('a returned event with an extension outside the type system is a 500 and writes nothing (not "[object Object]")', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(
      sink,
      {},
      () =>
        new CloudEvent<unknown>({ type: 'out', source: '/o', data: 1, myext: { a: 1 } as unknown as string }, false),
    );
    const res = await post(runtime.url, 'obj-1', trade);
    assert.equal(res.status, 500);
    assert.match(
      JSON.parse(res.text).error.message,
      /attribute "myext" must be a string, a 32-bit integer or a boolean/,
    );
    assert.equal(sink.requests.length, 0);
  });

  test('a function that returns nothing writes nothing and answers 204', async () => {
    const sink = await sinkStandIn();
    const runtime = await forwarder(sink, {}, () => undefined);
    const res = await post(runtime.url, 'none-1', trade);
    assert.equal(res.status, 204);
    assert.equal(sink.requests.length, 0);
  });

  test('an invalid CloudEvent is a 400 and reaches neither the function nor the sink', async () => {
    const sink = await sinkStandIn();
    let ran = 0;
    const runtime = await forwarder(sink, {}, () => {
      ran++;
      return {};
    });
    const res = await fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-id': 'x' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.equal(ran, 0);
    assert.equal(sink.requests.length, 0);
  });
});

describe('buildSinkEvents', () => {
  const incoming = new CloudEvent<unknown>({
    id: 'in-1',
    source: '/in',
    type: 'in.type',
    subject: 'sub-1',
    data: { k: 'v' },
  });
  const options = {
    type: undefined,
    source: '/out',
    partitionKey: undefined,
    now: () => new Date('2024-01-01T00:00:00Z'),
  };

  test('a returned CloudEvent keeps its type, source and extensions but gets a derived id', () => {
    const own = new CloudEvent<unknown>({ type: 'own.type', source: '/own', data: 1, partitionkey: 'pk-own' });
    const [event] = buildSinkEvents(incoming, own, { ...options, partitionKey: 'subject' });
    assert.equal(event!.type, 'own.type');
    assert.equal(event!.source, '/own');
    assert.equal(event!.partitionkey, 'pk-own', "the function's own key wins over SINK_PARTITION_KEY");
    assert.equal(event!.id, derivedEventId(incoming, 0));
  });

  test('a plain result takes the incoming type when SINK_EVENT_TYPE is unset, and the key falls back to the incoming event', () => {
    const [event] = buildSinkEvents(incoming, { n: 1 }, { ...options, partitionKey: 'data.k' });
    assert.equal(event!.type, 'in.type');
    assert.equal(event!.subject, 'sub-1');
    assert.equal(event!.partitionkey, 'v');
    assert.equal(event!.time, '2024-01-01T00:00:00.000Z');
  });

  test('null, undefined and empty lists give no events; ids differ by position', () => {
    assert.equal(buildSinkEvents(incoming, undefined, options).length, 0);
    assert.equal(buildSinkEvents(incoming, [], options).length, 0);
    const ids = buildSinkEvents(incoming, [1, 2], options).map((e) => e.id);
    assert.deepEqual(ids, [derivedEventId(incoming, 0), derivedEventId(incoming, 1)]);
    assert.match(ids[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('the incoming data passed on as it is keeps its content type; other results are JSON', () => {
    const xml = new CloudEvent<unknown>({
      id: 'x-1',
      source: '/in',
      type: 'in.type',
      datacontenttype: 'text/xml',
      data: '<a/>',
    });
    const [same] = buildSinkEvents(xml, xml.data, options);
    assert.equal(same!.datacontenttype, 'text/xml');
    const [changed] = buildSinkEvents(xml, '<b/>', options);
    assert.equal(changed!.datacontenttype, 'application/json');
    const [replied] = buildSinkEvents(
      xml,
      { [Symbol.for('knative-events.reply')]: true, type: 'out', data: xml.data },
      options,
    );
    assert.equal(replied!.datacontenttype, 'text/xml');
  });

  test("a plain result's record is the event the SDK's strict constructor makes of its attributes", () => {
    const traced = new CloudEvent<unknown>({
      id: 'in-2',
      source: '/in',
      type: 'in.type',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      data: { k: 'v' },
    });
    const results: [CloudEvent<unknown>, unknown, string | undefined][] = [
      [incoming, { n: 1 }, undefined],
      [incoming, incoming.data, 'data.k'],
      [traced, ['text', 0, false, null, [1, 2]], 'subject'],
      [traced, Buffer.from([1, 2, 3]), undefined],
    ];
    for (const [from, result, partitionKey] of results) {
      for (const ours of buildSinkEvents(from, result, { ...options, partitionKey }, { tracestate: 'a=b' })) {
        // data_base64 left out: the constructor derives it from binary data itself.
        const defined = Object.entries(ours).filter(([key, value]) => value !== undefined && key !== 'data_base64');
        const sdk = new CloudEvent<unknown>(Object.fromEntries(defined), true);
        const what = JSON.stringify(ours);
        assert.equal(Object.getPrototypeOf(ours), CloudEvent.prototype, what);
        assert.ok(Object.isFrozen(ours), what);
        assert.deepEqual(Reflect.ownKeys(ours), Reflect.ownKeys(sdk), what);
        for (const key of Reflect.ownKeys(sdk)) assert.deepEqual(ours[key as 'id'], sdk[key as 'id'], what);
        // The extensions in the order they are written on the wire: as buildSinkEvents adds them.
        const extensions = ['sourceeventid', 'traceparent', 'tracestate', 'partitionkey'];
        const own = Object.keys(ours).filter((key) => extensions.includes(key));
        assert.deepEqual(
          own,
          extensions.filter((key) => key in ours),
          what,
        );
      }
    }
  });

  test("a plain result's record the SDK refuses is a 500 function_error with the SDK's reason", () => {
    const refused = { ...options, source: 'not a uri reference' };
    let sdkMessage = '';
    try {
      new CloudEvent<unknown>({ id: 'x', type: 'in.type', source: refused.source, data: 1 }, true);
    } catch (err) {
      sdkMessage = (err as Error).message;
    }
    assert.notEqual(sdkMessage, '', 'the SDK refuses that source');
    for (const round of [1, 2])
      assert.throws(
        () => buildSinkEvents(incoming, { n: round }, refused),
        (err: { status?: number; type?: string; message?: string }) =>
          err.status === 500 &&
          err.type === 'function_error' &&
          err.message === `the function returned an invalid event (item 0): ${sdkMessage}`,
      );
  });

  test('an invalid returned event is a 500 function_error', () => {
    assert.throws(
      () => buildSinkEvents(incoming, { [Symbol.for('knative-events.reply')]: true, type: 'x', BadName: 1 }, options),
      (err: { status?: number }) => err.status === 500,
    );
  });
});
