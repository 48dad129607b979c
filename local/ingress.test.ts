// The local Broker and KafkaSink ingresses on loopback: the Knative ingress contract (202 / 400 / 404),
// trigger fan-out, replies re-entering the broker, and Kafka records as the protocol binding writes them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { startReceiver, type Receiver } from '../test/helpers/receiver.js';
import { createBroker } from './broker.js';
import { defaultDelivery } from './delivery.js';
import { fetchPost } from './http.js';
import { createKafkaSinkIngress, toRecord } from './kafka-sink.js';
import { createConsole } from './log.js';
import { startServer, type RunningServer } from './server.js';

const lines: string[] = [];
const log = createConsole({ level: 'debug', colour: false, write: (l) => lines.push(l) }).component('broker');
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups) await c();
});
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}
async function serve(handler: Parameters<typeof startServer>[3]): Promise<RunningServer> {
  const s = await startServer('test', '127.0.0.1', 0, handler);
  cleanups.push(() => s.close());
  return s;
}
const post = (url: string, headers: Record<string, string>, body: string) =>
  fetch(url, { method: 'POST', headers, body });

describe('local broker', () => {
  it('answers 202 to a CloudEvent, 400 to an invalid one, 404 to an unknown broker; delivers to matching triggers only', async () => {
    const trades = await receiver({ status: 200 });
    const replies = await receiver({ status: 204 });
    const spec = { ...defaultDelivery };
    const broker = createBroker(
      [{ name: 'b', namespace: 'ns', path: '/ns/b', url: '' }],
      [
        {
          name: 'trades',
          namespace: 'ns',
          brokerPath: '/ns/b',
          filter: { attributes: { type: 'com.example.trade' } },
          subscriberUrl: trades.url,
          subscriberLabel: 'trades',
          delivery: spec,
        },
        {
          name: 'replies',
          namespace: 'ns',
          brokerPath: '/ns/b',
          filter: { filters: [{ prefix: { type: 'com.example.reply' } }] },
          subscriberUrl: replies.url,
          subscriberLabel: 'replies',
          delivery: spec,
        },
      ],
      { post: fetchPost, sleep: async () => {}, log },
    );
    const server = await serve((req, body) => broker.handle(req, body));
    const base = `http://127.0.0.1:${server.port}`;

    const ok = await post(
      `${base}/ns/b`,
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'a1',
        'ce-source': '/t',
        'ce-type': 'com.example.trade',
      },
      '{"x":1}',
    );
    assert.equal(ok.status, 202);
    const invalid = await post(
      `${base}/ns/b`,
      { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-source': '/t' },
      '{}',
    );
    assert.equal(invalid.status, 400);
    assert.match(JSON.stringify(await invalid.json()), /id.*type|missing/);
    const unknown = await post(`${base}/ns/other`, { 'content-type': 'application/json' }, '{}');
    assert.equal(unknown.status, 404);
    await broker.idle();
    assert.equal(trades.requests.length, 1);
    assert.equal(trades.requests[0]?.event?.id, 'a1');
    assert.equal(trades.requests[0]?.headers.prefer, 'reply');
    assert.equal(replies.requests.length, 0, 'the trades subscriber answered plain JSON: no reply event');
  });

  it('publishes a subscriber reply back into the broker', async () => {
    const sink = await receiver({ status: 202 });
    const spec = { ...defaultDelivery };
    const broker = createBroker(
      [{ name: 'b', namespace: 'ns', path: '/ns/b', url: '' }],
      [
        {
          name: 'in',
          namespace: 'ns',
          brokerPath: '/ns/b',
          filter: { attributes: { type: 'in' } },
          subscriberUrl: 'http://replier/',
          subscriberLabel: 'replier',
          delivery: spec,
        },
        {
          name: 'out',
          namespace: 'ns',
          brokerPath: '/ns/b',
          filter: { attributes: { type: 'out' } },
          subscriberUrl: sink.url,
          subscriberLabel: 'sink',
          delivery: spec,
        },
      ],
      {
        post: async (url, headers, body, timeout) =>
          url === 'http://replier/'
            ? {
                status: 200,
                headers: {
                  'ce-specversion': '1.0',
                  'ce-id': 'r1',
                  'ce-source': '/replier',
                  'ce-type': 'out',
                  'content-type': 'application/json',
                },
                body: Buffer.from('{"y":2}'),
              }
            : fetchPost(url, headers, body, timeout),
        sleep: async () => {},
        log,
      },
    );
    broker.publish('/ns/b', new CloudEvent({ id: 'i1', source: '/s', type: 'in' }));
    await broker.idle();
    assert.equal(sink.requests.length, 1);
    assert.equal(sink.requests[0]?.event?.id, 'r1');
    assert.deepEqual(sink.requests[0]?.event?.data, { y: 2 });
  });
});

describe('local KafkaSink', () => {
  const event = new CloudEvent<unknown>({
    id: 'k1',
    source: '/s',
    type: 't',
    subject: 'T-1',
    partitionkey: 'acct-7',
    datacontenttype: 'application/json',
    data: { a: 1 },
  });
  it('binary mode: ce_ headers, content-type, data as value, partitionkey as key', () => {
    const r = toRecord(event, 'binary', { topic: 'x', offset: 3, timestamp: 'now' });
    assert.equal(r.key, 'acct-7');
    assert.equal(r.headers.ce_id, 'k1');
    assert.equal(r.headers.ce_subject, 'T-1');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.value ?? ''), { a: 1 });
    assert.equal(r.offset, 3);
  });
  it('structured mode: the whole event as value and only a content-type header', () => {
    const r = toRecord(event, 'structured', { topic: 'x', offset: 0, timestamp: 'now' });
    assert.deepEqual(Object.keys(r.headers), ['content-type']);
    assert.match(r.headers['content-type'] ?? '', /^application\/cloudevents\+json/);
    const value = JSON.parse(r.value ?? '') as Record<string, unknown>;
    assert.equal(value.id, 'k1');
    assert.deepEqual(value.data, { a: 1 });
    assert.equal(r.key, 'acct-7');
  });
  it('bytes that are not UTF-8 are kept as valueBase64', () => {
    const bin = new CloudEvent<unknown>({
      id: 'b',
      source: '/s',
      type: 't',
      datacontenttype: 'application/octet-stream',
      data: Buffer.from([0xff, 0xfe, 0x00]),
    });
    const r = toRecord(bin, 'binary', { topic: 'x', offset: 0, timestamp: 'now' });
    assert.equal(r.value, undefined);
    assert.equal(r.valueBase64, Buffer.from([0xff, 0xfe, 0x00]).toString('base64'));
    assert.equal(r.key, null);
  });
  it('the ingress appends one JSON line per accepted record and answers 202; 400 for an invalid event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'kafka', 'topic-a.jsonl');
    const ingress = await createKafkaSinkIngress(
      [{ name: 's', namespace: 'ns', path: '/ns/s', url: '', topic: 'topic-a', contentMode: 'binary', file }],
      { log },
    );
    const server = await serve((req, body) => ingress.handle(req, body));
    const url = `http://127.0.0.1:${server.port}/ns/s`;
    const headers = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-source': '/s', 'ce-type': 't' };
    assert.equal((await post(url, { ...headers, 'ce-id': '1', 'ce-partitionkey': 'p' }, '{"n": 1}')).status, 202);
    assert.equal((await post(url, { ...headers, 'ce-id': '2' }, '{"n":2}')).status, 202);
    assert.equal((await post(url, { 'content-type': 'application/json' }, '{}')).status, 400);
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => [r.offset, r.key, r.value]),
      [
        [0, 'p', '{"n": 1}'],
        [1, null, '{"n":2}'],
      ],
    );
  });
});
