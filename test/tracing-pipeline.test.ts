// One trace per event across every hop, checked at an OpenTelemetry collector: a small OTLP/HTTP receiver on
// loopback stands in for the collector (test/helpers/otlp-collector.ts decodes the protobuf with the official
// OTLP .proto files). The roles run in-process on loopback with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT),
// behind a broker stand-in written here, which delivers like a Knative broker: in binary mode, the trace
// context only in the event's extension (the header dropped), or with a traceparent header of a trace of its
// own (a broker that starts traces); replies published back; retries; dead letters to the dlq with the
// knativeerror* extensions. Then a replay through the dlq's admin API starts a new trace linked to the old.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { serialise } from '../runtime/events/sender.js';
import { reply, type EventFunction } from '../runtime/function-api.js';
import echo from '../functions/echo/index.js';
import { startOtlpCollector, type OtlpCollector, type ReceivedSpan } from './helpers/otlp-collector.js';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

const token = 'tracing-test-admin-token-0123';
const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Trigger {
  readonly type: string;
  readonly url: string;
}

interface BrokerStandIn {
  readonly url: string;
  /** What reached the ingress: headers and the event as a CloudEvents SDK reads it. */
  readonly received: Array<{ headers: IncomingHttpHeaders; event: CloudEvent<unknown> }>;
  settled(): Promise<void>;
}

const retried = (status: number) => status === 0 || status >= 500 || [404, 408, 409, 429].includes(status);

async function startBroker(options: {
  triggers: Trigger[];
  deadLetterUrl?: string;
  retries?: number;
  header: 'dropped' | 'own-trace';
}): Promise<BrokerStandIn> {
  const received: BrokerStandIn['received'] = [];
  const running = new Set<Promise<void>>();
  const post = async (url: string, event: CloudEvent<unknown>) => {
    const message = serialise(event, 'binary');
    // A broker that traces on its own sends a traceparent of its own trace; one that does not, none at all.
    const headers =
      options.header === 'own-trace'
        ? {
            ...message.headers,
            traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
          }
        : message.headers;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: message.body });
      const resHeaders = Object.fromEntries(res.headers);
      return { status: res.status, headers: resHeaders, body: Buffer.from(await res.arrayBuffer()) };
    } catch {
      return { status: 0, headers: {}, body: Buffer.alloc(0) };
    }
  };
  const publish = (event: CloudEvent<unknown>) => {
    for (const trigger of options.triggers.filter((t) => t.type === event.type)) {
      const delivery = deliver(trigger.url, event).finally(() => running.delete(delivery));
      running.add(delivery);
    }
  };
  async function deliver(url: string, event: CloudEvent<unknown>): Promise<void> {
    let last = { status: 0, headers: {} as Record<string, string>, body: Buffer.alloc(0) };
    for (let attempt = 0; attempt <= (options.retries ?? 0); attempt++) {
      last = await post(url, event);
      if (last.status >= 200 && last.status < 300) {
        // A reply (a CloudEvent in the answer) is published back into the broker, as Knative does.
        if (last.headers['ce-id'])
          publish(HTTP.toEvent({ headers: last.headers, body: last.body }) as CloudEvent<unknown>);
        return;
      }
      if (!retried(last.status)) break;
    }
    if (options.deadLetterUrl) {
      const letter = event.cloneWith(
        {
          knativeerrordest: url,
          knativeerrorcode: String(last.status),
          knativeerrordata: last.body.toString('base64').slice(0, 1024),
        },
        false,
      );
      await post(options.deadLetterUrl, letter);
    }
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = HTTP.toEvent({
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString('utf8'),
      }) as CloudEvent<unknown>;
      received.push({ headers: req.headers, event });
      res.writeHead(202).end();
      publish(event);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ns/default`,
    received,
    settled: () =>
      waitFor(async () => (await Promise.all([...running]), running.size === 0), 10_000, {
        what: 'the broker stand-in’s deliveries',
      }).then(() => undefined),
  };
}

async function collector(): Promise<OtlpCollector> {
  const c = await startOtlpCollector();
  cleanups.push(() => c.close());
  return c;
}

async function role(
  env: Record<string, string>,
  otlp: OtlpCollector | undefined,
  fn?: EventFunction<unknown>,
): Promise<RunningRuntime> {
  const tracing: Record<string, string> = otlp
    ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '20' }
    : {};
  // The function is given here (functions/echo unless the test brings its own), not looked up by name.
  const runtime = await startRuntime(
    { LOG_LEVEL: 'warn', OUTBOUND_BACKOFF_MS: '1', OUTBOUND_BACKOFF_MAX_MS: '2', ...tracing, ...env },
    { loadFunction: async () => ({ default: fn ?? echo }) },
  );
  cleanups.push(() => runtime.stop());
  return runtime;
}

/** Posts a binary-mode CloudEvent. */
async function send(url: string, id: string, type: string, data: unknown, extra: Record<string, string> = {}) {
  const headers = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': type,
    'ce-source': '/tests/tracing',
    ...extra,
  };
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(data) });
  return { status: res.status, body: await res.text() };
}

const one = (spans: ReceivedSpan[], predicate: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan => {
  const found = spans.filter(predicate);
  assert.equal(
    found.length,
    1,
    `exactly one ${what}; spans: ${spans.map((s) => `${s.resource['service.name']}:${s.name}`).join(', ')}`,
  );
  return found[0]!;
};
const byService = (service: string, name: string) => (s: ReceivedSpan) =>
  s.resource['service.name'] === service && s.name === name;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

describe('one trace per event, exported over OTLP/HTTP', () => {
  test('binary: handler receive → publish broker → subscriber process (function span, context.span) → publish reply → sink-forwarder process → publish sink, one connected trace', async () => {
    const otlp = await collector();
    const sink = await startReceiver({ status: 202 });
    cleanups.push(() => sink.close());
    const forwarder = await role(
      { ROLE: 'sink-forwarder', FUNCTION: 'echo', K_SERVICE: 'forwarder', KAFKA_SINK_URL: sink.url },
      otlp,
    );
    const enrich: EventFunction<{ order: string }> = (event, context) => {
      context.span.setAttribute('order.id', event.data!.order);
      context.span.addEvent('order.validated', { 'order.lines': 3 });
      return reply({ type: 'com.example.order.enriched', data: { order: event.data!.order, enriched: true } });
    };
    const subscriber = await role(
      { ROLE: 'subscriber', FUNCTION: 'echo', K_SERVICE: 'enricher' },
      otlp,
      enrich as EventFunction<unknown>,
    );
    const broker = await startBroker({
      header: 'dropped',
      triggers: [
        { type: 'com.example.order', url: subscriber.url },
        { type: 'com.example.order.enriched', url: forwarder.url },
      ],
    });
    const handler = await role(
      { ROLE: 'handler', K_SERVICE: 'edge', BROKER_URL: broker.url, BROKER_CONTENT_MODE: 'binary' },
      otlp,
    );

    const clientTrace = hex(16);
    const clientSpan = hex(8);
    const res = await send(
      handler.url,
      'order-1',
      'com.example.order',
      { order: 'O-1' },
      { traceparent: `00-${clientTrace}-${clientSpan}-01`, tracestate: 'shop=abc' },
    );
    assert.equal(res.status, 202);
    await broker.settled();
    const spans = await otlp.waitForSpans((s) => s.length >= 8, 'the 8 spans of the event’s path');
    // Stopping flushes every queued span: after it, a span more than the hops would have arrived.
    await Promise.all([handler, subscriber, forwarder].map((r) => r.stop()));
    assert.equal(spans.length, 8, 'no span more than the hops');

    const receive = one(spans, byService('edge', 'receive'), 'handler receive');
    const publishBroker = one(spans, byService('edge', 'publish broker'), 'publish to the broker');
    const process = one(spans, byService('enricher', 'process echo'), 'subscriber process');
    const fn = one(spans, byService('enricher', 'function echo'), 'function span');
    const publishReply = one(spans, byService('enricher', 'publish reply'), 'reply publish');
    const forwarded = one(spans, byService('forwarder', 'process echo'), 'sink-forwarder process');
    one(spans, byService('forwarder', 'function echo'), 'sink-forwarder function span');
    const publishSink = one(spans, byService('forwarder', 'publish sink'), 'publish to the sink');

    for (const s of spans) {
      assert.equal(s.traceId, clientTrace, `${s.name} is in the client's trace`);
      assert.equal(s.traceState, 'shop=abc', `${s.name} carries the client's tracestate`);
      assert.equal(s.scope, 'knative-events');
      assert.equal(s.status.code, 0, `${s.name} succeeded`);
      assert.ok(s.endNs >= s.startNs && s.startNs > 1_700_000_000_000_000_000n, `${s.name} has real timestamps`);
    }
    // Parents: the chain of hops, through the broker that kept only the event's extension.
    assert.deepEqual(
      [receive, publishBroker, process, fn, publishReply, forwarded, publishSink].map((s) => [
        s.name,
        s.kind,
        s.parentSpanId,
      ]),
      [
        ['receive', 'server', clientSpan],
        ['publish broker', 'producer', receive.spanId],
        ['process echo', 'consumer', publishBroker.spanId],
        ['function echo', 'internal', process.spanId],
        ['publish reply', 'producer', process.spanId],
        ['process echo', 'consumer', publishReply.spanId],
        ['publish sink', 'producer', forwarded.spanId],
      ],
    );
    // Semantic conventions (messaging, HTTP, CloudEvents) and the resource.
    assert.equal(receive.resource['service.name'], 'edge');
    assert.equal(receive.resource['knative_events.role'], 'handler');
    assert.deepEqual(
      {
        system: receive.attributes['messaging.system'],
        op: receive.attributes['messaging.operation.type'],
        method: receive.attributes['http.request.method'],
        status: receive.attributes['http.response.status_code'],
        id: receive.attributes['cloudevents.event_id'],
        type: receive.attributes['cloudevents.event_type'],
      },
      { system: 'knative', op: 'receive', method: 'POST', status: 202, id: 'order-1', type: 'com.example.order' },
    );
    const brokerUrl = new URL(broker.url);
    assert.deepEqual(
      {
        op: publishBroker.attributes['messaging.operation.name'],
        type: publishBroker.attributes['messaging.operation.type'],
        dest: publishBroker.attributes['messaging.destination.name'],
        url: publishBroker.attributes['url.full'],
        host: publishBroker.attributes['server.address'],
        port: publishBroker.attributes['server.port'],
        status: publishBroker.attributes['http.response.status_code'],
      },
      {
        op: 'publish',
        type: 'send',
        dest: 'broker',
        url: broker.url,
        host: '127.0.0.1',
        port: Number(brokerUrl.port),
        status: 202,
      },
    );
    assert.equal(process.attributes['messaging.operation.type'], 'process');
    assert.equal(process.attributes['cloudevents.event_id'], 'order-1');
    assert.equal(fn.attributes['order.id'], 'O-1', 'the function’s own attribute, through context.span');
    assert.deepEqual(fn.events, [{ name: 'order.validated', attributes: { 'order.lines': 3 } }]);
    assert.equal(publishReply.attributes['cloudevents.event_type'], 'com.example.order.enriched');
    assert.equal(publishSink.attributes['url.full'], sink.url);

    // On the wire: the broker got the publish span's context in both the header and the extension, and so did the sink.
    const atBroker = broker.received[0]!;
    assert.equal(atBroker.headers.traceparent, `00-${clientTrace}-${publishBroker.spanId}-01`);
    assert.equal(atBroker.event.traceparent, atBroker.headers.traceparent);
    assert.equal(
      atBroker.headers['ce-traceparent'],
      atBroker.headers.traceparent,
      'binary mode: the extension as a ce- header',
    );
    assert.equal(atBroker.event.tracestate, 'shop=abc');
    const reply2 = broker.received.length; // the reply reached the stand-in through the subscriber's answer, not its ingress
    assert.equal(reply2, 1);
    const record = sink.requests[0]!;
    assert.equal(record.headers.traceparent, `00-${clientTrace}-${publishSink.spanId}-01`);
    assert.equal(record.event?.traceparent, record.headers.traceparent);
  });

  test('structured, traceparent only in the event; a broker that starts a trace of its own: the event’s trace goes on and links to the broker’s', async () => {
    const otlp = await collector();
    const subscriber = await role(
      { ROLE: 'subscriber', FUNCTION: 'echo', K_SERVICE: 'quiet', SUBSCRIBER_PLAIN_RESULT: 'discard' },
      otlp,
    );
    const broker = await startBroker({
      header: 'own-trace',
      triggers: [{ type: 'com.example.note', url: subscriber.url }],
    });
    const handler = await role({ ROLE: 'handler', K_SERVICE: 'edge2', BROKER_URL: broker.url }, otlp);
    const trace = hex(16);
    const parent = hex(8);
    const body = JSON.stringify({
      specversion: '1.0',
      id: 'note-1',
      source: '/tests',
      type: 'com.example.note',
      traceparent: `00-${trace}-${parent}-01`,
      data: { n: 1 },
    });
    const res = await fetch(handler.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body,
    });
    assert.equal(res.status, 202);
    await broker.settled();
    // Each role exports on its own schedule: wait for every span the test looks at, not just the last one made.
    const spans = await otlp.waitForSpans(
      (s) =>
        ['receive', 'publish broker', 'process echo', 'function echo'].every((name) => s.some((x) => x.name === name)),
      'the four spans',
    );
    const receive = one(spans, byService('edge2', 'receive'), 'receive');
    const publish = one(spans, byService('edge2', 'publish broker'), 'publish');
    const process = one(spans, byService('quiet', 'process echo'), 'process');
    assert.equal(receive.traceId, trace);
    assert.equal(receive.parentSpanId, parent, 'the parent came from the structured event’s traceparent attribute');
    assert.equal(broker.received[0]!.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    assert.equal(
      broker.received[0]!.event.traceparent,
      `00-${trace}-${publish.spanId}-01`,
      'structured mode: in the JSON',
    );
    assert.equal(broker.received[0]!.headers.traceparent, `00-${trace}-${publish.spanId}-01`, 'and in the header');
    assert.equal(process.traceId, trace, 'the broker’s own trace did not take over');
    assert.equal(process.parentSpanId, publish.spanId);
    assert.equal(process.links.length, 1);
    assert.notEqual(process.links[0]!.traceId, trace);
    assert.equal(process.links[0]!.attributes['knative_events.link'], 'http-traceparent');
  });

  test('a retry then a dead letter in the same trace (knativeerrordest/knativeerrorcode); the replay is a new trace linked to it', async () => {
    const otlp = await collector();
    const dir = mkdtempSync(join(tmpdir(), 'tracing-dlq-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dlq = await role(
      { ROLE: 'dlq', K_SERVICE: 'dead-letters', DLQ_FILE: join(dir, 'dead-letters.jsonl'), DLQ_ADMIN_TOKEN: token },
      otlp,
    );
    let calls = 0;
    const flaky: EventFunction<unknown> = () => {
      calls++;
      if (calls <= 2) throw new Error('downstream is down');
      return undefined;
    };
    const subscriber = await role({ ROLE: 'subscriber', FUNCTION: 'echo', K_SERVICE: 'flaky' }, otlp, flaky);
    const broker = await startBroker({
      header: 'dropped',
      retries: 1,
      deadLetterUrl: dlq.url,
      triggers: [{ type: 'com.example.job', url: subscriber.url }],
    });
    const handler = await role({ ROLE: 'handler', K_SERVICE: 'edge3', BROKER_URL: broker.url }, otlp);

    assert.equal((await send(handler.url, 'job-1', 'com.example.job', { job: 1 })).status, 202);
    await broker.settled();
    const spans = await otlp.waitForSpans(
      (s) =>
        s.some((x) => x.name === 'receive dead-letter') &&
        s.filter(byService('flaky', 'process echo')).length === 2 &&
        s.filter(byService('flaky', 'function echo')).length === 2 &&
        s.some(byService('edge3', 'publish broker')),
      'the publish, both attempts and the dead letter’s span',
    );
    const publish = one(spans, byService('edge3', 'publish broker'), 'publish');
    const attempts = spans.filter(byService('flaky', 'process echo'));
    assert.equal(attempts.length, 2, 'the first delivery and its retry');
    for (const attempt of attempts) {
      assert.deepEqual(
        [
          attempt.traceId,
          attempt.parentSpanId,
          attempt.status.code,
          attempt.attributes['error.type'],
          attempt.attributes['http.response.status_code'],
        ],
        [publish.traceId, publish.spanId, 2, 'function_error', 500],
      );
    }
    const failedFunctions = spans.filter(byService('flaky', 'function echo'));
    assert.equal(failedFunctions.length, 2);
    assert.ok(failedFunctions.every((s) => s.status.code === 2));
    const dead = one(spans, byService('dead-letters', 'receive dead-letter'), 'dlq receive');
    assert.equal(dead.kind, 'consumer');
    assert.equal(dead.traceId, publish.traceId, 'the dead letter is in the failed event’s trace');
    assert.equal(dead.parentSpanId, publish.spanId);
    assert.equal(dead.attributes.knativeerrordest, subscriber.url);
    assert.equal(dead.attributes.knativeerrorcode, 500);
    assert.equal(dead.attributes['cloudevents.event_id'], 'job-1');
    const deadLetterId = dead.attributes['knative_events.dead_letter.id'];
    assert.equal(typeof deadLetterId, 'string');

    // Replay (to the subscriber that failed, which works now): a new trace, with a link back to the failed one.
    const replayed = await fetch(`${dlq.url}dead-letters/${String(deadLetterId)}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(replayed.status, 200, await replayed.text());
    const after = await otlp.waitForSpans(
      (s) =>
        s.filter(byService('flaky', 'process echo')).length === 3 &&
        s.some((x) => x.resource['service.name'] === 'dead-letters' && x.name.startsWith('publish ')),
      'the replay’s span and the replayed delivery’s process span',
    );
    const replay = one(
      after,
      (s) => s.resource['service.name'] === 'dead-letters' && s.name.startsWith('publish '),
      'replay publish',
    );
    assert.equal(replay.name, 'publish destination');
    assert.equal(replay.kind, 'producer');
    assert.notEqual(replay.traceId, publish.traceId, 'a new trace');
    assert.equal(replay.parentSpanId, '', 'a root span');
    assert.deepEqual(
      replay.links.map((l) => [l.traceId, l.spanId, l.attributes['knative_events.link']]),
      [[publish.traceId, publish.spanId, 'replay-of']],
    );
    assert.equal(replay.attributes['knative_events.dead_letter.id'], deadLetterId);
    assert.equal(typeof replay.attributes['knative_events.replay.id'], 'string');
    assert.equal(replay.attributes['url.full'], subscriber.url);
    const third = after.filter(byService('flaky', 'process echo'))[2]!;
    assert.deepEqual([third.traceId, third.parentSpanId, third.status.code], [replay.traceId, replay.spanId, 0]);
  });

  test('sampling: a new trace at ratio 0 is not recorded but goes on unsampled (flag 00); a caller’s sampled trace is recorded whole', async () => {
    const otlp = await collector();
    const broker = await startBroker({ header: 'dropped', triggers: [] });
    const handler = await role(
      {
        ROLE: 'handler',
        K_SERVICE: 'ratio0',
        BROKER_URL: broker.url,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0',
      },
      otlp,
    );
    assert.equal((await send(handler.url, 'unsampled-1', 'com.example.s', { a: 1 })).status, 202);
    const unsampled = String(broker.received[0]!.headers.traceparent);
    assert.match(unsampled, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'a context, not sampled');
    assert.equal(broker.received[0]!.event.traceparent, unsampled);
    const trace = hex(16);
    assert.equal(
      (await send(handler.url, 'sampled-1', 'com.example.s', { a: 2 }, { traceparent: `00-${trace}-${hex(8)}-01` }))
        .status,
      202,
    );
    const spans = await otlp.waitForSpans((s) => s.length >= 2, 'the sampled trace’s spans');
    // Stopping flushes every queued span, so an unsampled one that was recorded after all would be here now.
    await handler.stop();
    assert.deepEqual(spans.map((s) => [s.name, s.traceId, s.attributes['cloudevents.event_id']]).sort(), [
      ['publish broker', trace, 'sampled-1'],
      ['receive', trace, 'sampled-1'],
    ]);
    assert.match(String(broker.received[1]!.headers.traceparent), new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
  });

  test('tracing off: nothing is recorded and the caller’s trace passes through, in the header and the extension', async () => {
    const broker = await startBroker({ header: 'dropped', triggers: [] });
    const handler = await role({ ROLE: 'handler', BROKER_URL: broker.url, BROKER_CONTENT_MODE: 'binary' }, undefined);
    assert.equal(handler.tracing.enabled, false);
    const traceparent = `00-${hex(16)}-${hex(8)}-01`;
    assert.equal((await send(handler.url, 'plain-1', 'com.example.plain', { a: 1 }, { traceparent })).status, 202);
    assert.equal(broker.received[0]!.headers.traceparent, traceparent);
    assert.equal(broker.received[0]!.event.traceparent, traceparent);
    // Without a trace there is nothing to carry: the event goes on as it came.
    assert.equal((await send(handler.url, 'plain-2', 'com.example.plain', { a: 2 })).status, 202);
    assert.equal(broker.received[1]!.headers.traceparent, undefined);
    assert.equal(broker.received[1]!.event.traceparent, undefined);
  });
});
