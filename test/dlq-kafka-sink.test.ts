// DLQ_STORE=kafka-sink with dead letters that are not valid CloudEvents: they still reach the dead-letter topic
// as valid events (the readable attributes, the raw body byte for byte as data, the reason in
// knativeeventsinvalid), instead of failing the send forever (a 5xx Knative would retry until it gives up).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a dead letter kept raw is forwarded to the KafkaSink as a valid event carrying the raw body and the reason', async () => {
  const sink = await startReceiver({ status: 202 });
  cleanups.push(() => sink.close());
  const runtime = await startRuntime({
    ROLE: 'dlq',
    DLQ_STORE: 'kafka-sink',
    KAFKA_SINK_URL: sink.url,
    LOG_LEVEL: 'warn',
    OUTBOUND_RETRIES: '0',
  });
  cleanups.push(() => runtime.stop());
  const body = Buffer.from('{"trade_id": "T-1", ');
  const res = await fetch(runtime.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'raw-1',
      'ce-type': 'com.example.trade',
      'ce-source': '/provider',
      'ce-validate': 'shadowing',
      'ce-knativeerrorcode': '400',
      'ce-averyveryverylongextensionname': 'x',
    },
    body,
  });
  assert.equal(res.status, 202, await res.text());
  assert.equal(sink.accepted().length, 1);
  const sent = sink.accepted()[0]!;
  assert.equal(sent.headers['ce-id'], 'raw-1');
  assert.equal(sent.headers['ce-type'], 'com.example.trade');
  assert.equal(sent.headers['ce-source'], '/provider');
  assert.equal(sent.headers['ce-knativeerrorcode'], '400');
  assert.match(String(sent.headers['ce-knativeeventsinvalid']), /JSON/);
  assert.equal(sent.headers['ce-validate'], undefined, 'a name the SDK cannot carry is left out');
  assert.deepEqual(sent.body, body, 'the raw body, byte for byte');
});

test('a valid dead letter reaches the KafkaSink as it came: JSON text, XML and bytes unchanged, attributes as given', async () => {
  const sink = await startReceiver({ status: 202 });
  cleanups.push(() => sink.close());
  const runtime = await startRuntime({
    ROLE: 'dlq',
    DLQ_STORE: 'kafka-sink',
    KAFKA_SINK_URL: sink.url,
    LOG_LEVEL: 'warn',
    OUTBOUND_RETRIES: '0',
  });
  cleanups.push(() => runtime.stop());
  const letters = [
    { type: 'application/json', body: Buffer.from('{"id":12345678901234567890,"dup":1,"dup":2}') },
    { type: 'application/xml', body: Buffer.from('<a b="1.50">€</a>') },
    { type: 'application/protobuf', body: Buffer.from([0x08, 0x96, 0x01, 0x00, 0xff]) },
  ];
  for (const [i, letter] of letters.entries()) {
    const res = await fetch(runtime.url, {
      method: 'POST',
      headers: {
        'content-type': letter.type,
        'ce-specversion': '1.0',
        'ce-id': `k-${i}`,
        'ce-type': 'com.example.trade',
        'ce-source': '/provider',
        'ce-subject': '%E6%97%A5%20x',
        'ce-time': '2026-01-01T10:00:00.123456789+02:00',
        'ce-knativeerrorcode': '500',
      },
      body: letter.body,
    });
    assert.equal(res.status, 202, await res.text());
  }
  assert.equal(sink.accepted().length, letters.length);
  for (const [i, letter] of letters.entries()) {
    const sent = sink.accepted()[i]!;
    assert.equal(sent.headers['ce-id'], `k-${i}`);
    assert.equal(sent.headers['content-type'], letter.type);
    assert.deepEqual(sent.body, letter.body, `${letter.type}: byte for byte`);
    assert.equal(sent.headers['ce-subject'], '%E6%97%A5%20x', 'decoded on the way in, encoded again on the way out');
    assert.equal(sent.headers['ce-time'], '2026-01-01T10:00:00.123456789+02:00');
    assert.equal(sent.headers['ce-knativeerrorcode'], '500');
  }
});
