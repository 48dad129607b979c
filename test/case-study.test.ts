// The case study end to end on loopback: a trade arrives at the handler → Broker → sink-forwarder running
// trade-transform → KafkaSink; a trade that cannot be mapped is dead-lettered into the dlq's file store.
// Stand-ins, because Knative and Kafka cannot run here: test/helpers/broker-standin.ts for the Broker and
// its Trigger (delivery with retries, dead-lettering with the knativeerror* attributes), and
// test/helpers/receiver.ts for the KafkaSink ingress (202 on accept). The three roles are the real runtime.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBrokerStandIn, type BrokerStandIn } from './helpers/broker-standin.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'case-study-admin-token-0123456';
let dir: string;
let sink: Receiver;
let dlq: RunningRuntime;
let forwarder: RunningRuntime;
let broker: BrokerStandIn;
let handler: RunningRuntime;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'case-study-'));
  sink = await startReceiver({ status: 202 });
  dlq = await startRuntime({ ROLE: 'dlq', DLQ_FILE: join(dir, 'dead-letters.jsonl'), DLQ_ADMIN_TOKEN: token });
  forwarder = await startRuntime({
    ROLE: 'sink-forwarder',
    FUNCTION: 'trade-transform',
    KAFKA_SINK_URL: sink.url,
    SINK_PARTITION_KEY: 'subject',
    OUTBOUND_RETRIES: '1',
    OUTBOUND_BACKOFF_MS: '1',
  });
  broker = await startBrokerStandIn({ subscriberUrl: forwarder.url, deadLetterUrl: dlq.url, retries: 2, backoffMs: 5 });
  handler = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url });
});

after(async () => {
  await handler.stop();
  await broker.close();
  await forwarder.stop();
  await dlq.stop();
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

async function sendTrade(id: string, trade: unknown): Promise<number> {
  const res = await fetch(handler.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': 'com.provider.trade',
      'ce-source': '/provider/feed',
    },
    body: JSON.stringify(trade),
  });
  await res.arrayBuffer();
  return res.status;
}

test('a good trade reaches the Kafka topic transformed, as a CloudEvent keyed by trade id', async () => {
  const before = sink.accepted().length;
  assert.equal(
    await sendTrade('trade-evt-1', {
      trade_id: 'T-1',
      instrument: { ticker: 'msft' },
      qty: '250',
      px: 410.2,
      side: 'S',
      ccy: 'usd',
      trade_time: 1714557600000,
    }),
    202,
  );
  await broker.settled();
  const records = sink.accepted().slice(before);
  assert.equal(records.length, 1);
  const event = records[0]!.event!;
  assert.equal(event.type, 'com.example.trade.normalized');
  assert.equal(event.subject, 'T-1');
  assert.equal(event.partitionkey, 'T-1');
  assert.equal(event.sourceeventid, 'trade-evt-1');
  assert.deepEqual(event.data, {
    tradeId: 'T-1',
    symbol: 'MSFT',
    quantity: 250,
    price: 410.2,
    side: 'SELL',
    currency: 'USD',
    tradedAt: '2024-05-01T10:00:00.000Z',
    venue: 'UNKNOWN',
    settled: false,
  });
  assert.equal(broker.deliveries.at(-1)!.outcome, 'delivered');
});

test('a sink outage longer than the forwarder retries: the broker redelivers and the topic gets the trade once', async () => {
  const before = sink.accepted().length;
  // The forwarder tries twice per delivery: the first delivery fails (5xx), the broker's retry succeeds.
  sink.script({ status: 503 }, { status: 500 }, { status: 503 });
  assert.equal(
    await sendTrade('trade-evt-2', {
      trade_id: 'T-2',
      instrument: { ticker: 'aapl' },
      qty: 1,
      px: 190,
      side: 'B',
      trade_time: '2024-05-01T10:00:01Z',
    }),
    202,
  );
  await broker.settled();
  const delivery = broker.deliveries.at(-1)!;
  assert.deepEqual(delivery.attempts, [502, 202], "the sink's last answer was a 500: the forwarder says 502");
  const records = sink.accepted().slice(before);
  assert.deepEqual(
    records.map((r) => r.event!.subject),
    ['T-2'],
  );
});

test('a trade that fails transformation ends in the dlq store with its error, and never on the topic', async () => {
  const before = sink.requests.length;
  assert.equal(
    await sendTrade('trade-evt-bad', { trade_id: 'T-3', qty: -5, px: 'free', side: 'HOLD' }),
    202,
    'the handler accepts it: only the mapping can tell',
  );
  await broker.settled();
  assert.equal(sink.requests.length, before);
  const delivery = broker.deliveries.at(-1)!;
  assert.equal(delivery.outcome, 'dead-lettered');
  assert.deepEqual(delivery.attempts, [422], 'a 422 is not retried');

  const res = await fetch(new URL('/dead-letters?code=422', dlq.url), {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as {
    items: Array<{ id: string; eventId: string; error: { destination: string; code: string; data: string } }>;
  };
  assert.equal(body.items.length, 1);
  const letter = body.items[0]!;
  assert.equal(letter.eventId, 'trade-evt-bad');
  assert.equal(letter.error.destination, forwarder.url);
  const error = JSON.parse(letter.error.data) as {
    success: boolean;
    error: { type: string; message: string; details: string[] };
  };
  assert.equal(error.error.type, 'permanent_failure');
  assert.match(error.error.message, /trade trade-evt-bad cannot be mapped/);
  assert.ok(
    error.error.details.some((d) => d.startsWith('symbol (from instrument.ticker): required but missing')),
    JSON.stringify(error.error.details),
  );
  assert.ok(error.error.details.some((d) => d.startsWith('quantity (from qty)')));

  const shown = await fetch(new URL(`/dead-letters/${letter.id}`, dlq.url), {
    headers: { authorization: `Bearer ${token}` },
  });
  const full = (await shown.json()) as { deadLetter: { event: { data: unknown } } };
  assert.deepEqual(
    full.deadLetter.event.data,
    { trade_id: 'T-3', qty: -5, px: 'free', side: 'HOLD' },
    'the original trade is kept for a fix and a replay',
  );
});
