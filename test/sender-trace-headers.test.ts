// Every outbound call carries the W3C trace context in both places (issue 18): the CloudEvents
// distributed-tracing extension and the traceparent/tracestate HTTP headers, whichever code path built the
// event. The poster stands in for the broker's ingress and records what would go on the wire.
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { createEventSender } from '../runtime/events/sender.js';
import type { HttpPoster } from '../runtime/events/http-client.js';
import { WireEvent } from '../runtime/events/wire-event.js';
import { createLogger } from '../runtime/logger.js';

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const tracestate = 'vendor=opaque';

function recordingSender(mode: 'binary' | 'structured') {
  const sent: Array<Record<string, string>> = [];
  const poster: HttpPoster = {
    post: (_url, headers) => {
      sent.push(headers);
      return Promise.resolve({ status: 202, body: '' });
    },
    close: () => Promise.resolve(),
  };
  const sender = createEventSender(
    {
      target: 'broker',
      url: 'http://broker.test/ns/b',
      mode,
      outbound: { timeoutMs: 1000, retries: 0, backoffMs: 1, backoffMaxMs: 1 },
    },
    {
      poster,
      clock: { random: Math.random, sleep: () => Promise.resolve() },
      log: createLogger({ level: 'silent', base: {} }),
    },
  );
  return { sender, sent };
}

const wire = (attributes: Record<string, string>) =>
  new WireEvent(
    new Map(Object.entries({ specversion: '1.0', id: 'e-1', source: '/s', type: 't', ...attributes })),
    undefined,
  );

for (const mode of ['binary', 'structured'] as const) {
  test(`${mode}: the event's traceparent/tracestate also go out as the W3C headers`, async () => {
    const { sender, sent } = recordingSender(mode);
    await sender.send(wire({ traceparent, tracestate }));
    await sender.send(new CloudEvent({ id: 'e-2', source: '/s', type: 't', traceparent }, false));
    assert.equal(sent[0]?.traceparent, traceparent);
    assert.equal(sent[0]?.tracestate, tracestate);
    assert.equal(sent[1]?.traceparent, traceparent);
    assert.equal(sent[1]?.tracestate, undefined);
    if (mode === 'binary') assert.equal(sent[0]?.['ce-traceparent'], traceparent, 'and in the extension');
  });

  test(`${mode}: headers the caller gives win, and an event without a trace gets none`, async () => {
    const { sender, sent } = recordingSender(mode);
    const callers = '00-11111111111111111111111111111111-2222222222222222-01';
    await sender.send(wire({ traceparent }), { traceparent: callers });
    await sender.send(wire({}));
    assert.equal(sent[0]?.traceparent, callers);
    assert.equal(sent[1]?.traceparent, undefined);
    assert.equal(sent[1]?.tracestate, undefined);
  });
}

for (const mode of ['binary', 'structured'] as const) {
  test(`${mode}: trace extensions not in the W3C form stay in the event but never become headers Node refuses`, async () => {
    const { sender, sent } = recordingSender(mode);
    await sender.send(wire({ traceparent, tracestate: 'vendor=日本' }));
    await sender.send(wire({ traceparent: 'not-a-traceparent', tracestate }));
    await sender.send(wire({ traceparent: `${traceparent}\u00e9`, tracestate }));
    assert.equal(sent[0]?.traceparent, traceparent, 'a valid traceparent goes on');
    assert.equal(sent[0]?.tracestate, undefined, 'the tracestate Node would refuse is dropped');
    assert.equal(sent[1]?.traceparent, undefined);
    assert.equal(sent[1]?.tracestate, undefined, 'no tracestate without a valid traceparent');
    assert.equal(sent[2]?.traceparent, undefined);
    for (const headers of sent) for (const [name, value] of Object.entries(headers)) validateHeaderValue(name, value);
    if (mode === 'binary')
      assert.equal(sent[1]?.['ce-traceparent'], 'not-a-traceparent', 'the attribute still travels');
  });
}
