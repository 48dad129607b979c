// Every valid event passes through unchanged. A real handler and a real sink-forwarder (running the echo
// function) in front of loopback receivers that record the raw bytes of what arrives. Each kind of data
// (XML, protobuf bytes, all 256 byte values, UTF-8 and Latin-1 text, JSON with big numbers and duplicate
// keys, JSON with invalid UTF-8) goes in binary and structured mode, out in binary and structured mode,
// with a nanosecond `time` and a subject outside Latin-1, and must arrive with the same bytes, the same
// content type and the same attributes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { startReceiver, type Receiver, type RecordedRequest } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

interface DataCase {
  readonly name: string;
  readonly contentType: string;
  readonly bytes: Buffer;
  /** How a structured-mode sender writes this data: JSON as itself, UTF-8 text as a string, else base64. */
  readonly structuredAs: 'json' | 'text' | 'base64';
}

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
// A protobuf message as protoc would write it: field 1 varint 150, field 2 string "test", field 3 bytes 00 ff.
const protobuf = Buffer.from([0x08, 0x96, 0x01, 0x12, 0x04, 0x74, 0x65, 0x73, 0x74, 0x1a, 0x02, 0x00, 0xff]);
const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<trade id="T-1"><note>Grüße &amp; 日本語</note></trade>';

const cases: readonly DataCase[] = [
  { name: 'XML (application/xml)', contentType: 'application/xml', bytes: Buffer.from(xml), structuredAs: 'text' },
  { name: 'XML (text/xml)', contentType: 'text/xml; charset=utf-8', bytes: Buffer.from(xml), structuredAs: 'text' },
  { name: 'protobuf bytes', contentType: 'application/protobuf', bytes: protobuf, structuredAs: 'base64' },
  { name: 'all 256 byte values', contentType: 'application/octet-stream', bytes: allBytes, structuredAs: 'base64' },
  {
    name: 'UTF-8 text',
    contentType: 'text/plain; charset=utf-8',
    bytes: Buffer.from('Grüße, 日本語, 😀\r\n'),
    structuredAs: 'text',
  },
  {
    name: 'Latin-1 text',
    contentType: 'text/plain; charset=iso-8859-1',
    bytes: Buffer.from('café Größe ÿ ±', 'latin1'),
    structuredAs: 'base64',
  },
  {
    name: 'JSON with big numbers and duplicate keys',
    contentType: 'application/json',
    bytes: Buffer.from(
      '{"id":12345678901234567890,"big":1e400,"tiny":1.0e-400,"dup":1,"dup":2, "order":{"z":1,"a":2}}',
    ),
    structuredAs: 'json',
  },
  {
    name: 'JSON (vendor +json)',
    contentType: 'application/vnd.trade+json',
    bytes: Buffer.from('{ "n": [0.10, 1E+2, -0, "\\u00e9"] }'),
    structuredAs: 'json',
  },
  {
    name: 'JSON with invalid UTF-8 in a string',
    contentType: 'application/json',
    bytes: Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
    structuredAs: 'base64',
  },
];

const nanoTime = '2026-01-01T10:00:00.123456789+02:00';
const subject = '日本語 x%"';
// The subject percent-encoded by hand (CloudEvents HTTP binding §3.1.3.2): UTF-8 bytes of 日本語, space, %, ".
const subjectOnTheWire = '%E6%97%A5%E6%9C%AC%E8%AA%9E%20x%25%22';

type Mode = 'binary' | 'structured';

function binaryRequest(id: string, data: DataCase): { headers: Record<string, string>; body: Buffer } {
  return {
    headers: {
      'content-type': data.contentType,
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/pass/through',
      'ce-type': 'com.example.pass',
      'ce-time': nanoTime,
      'ce-subject': subjectOnTheWire,
      'ce-myext': 'kept',
    },
    body: data.bytes,
  };
}

function structuredRequest(id: string, data: DataCase): { headers: Record<string, string>; body: Buffer } {
  const attributes = {
    specversion: '1.0',
    id,
    source: '/pass/through',
    type: 'com.example.pass',
    time: nanoTime,
    subject,
    myext: 'kept',
    datacontenttype: data.contentType,
  };
  const head = JSON.stringify(attributes).slice(0, -1);
  const member =
    data.structuredAs === 'json'
      ? Buffer.concat([Buffer.from(',"data":'), data.bytes])
      : data.structuredAs === 'text'
        ? Buffer.from(`,"data":${JSON.stringify(data.bytes.toString('utf8'))}`)
        : Buffer.from(`,"data_base64":"${data.bytes.toString('base64')}"`);
  return {
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: Buffer.concat([Buffer.from(head), member, Buffer.from('}')]),
  };
}

const requestFor = (mode: Mode, id: string, data: DataCase) =>
  mode === 'binary' ? binaryRequest(id, data) : structuredRequest(id, data);

/** A header value percent-decoded as the binding says, independently of the runtime's code. */
const percentDecoded = (value: string) =>
  Buffer.from(
    value.replace(/%([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');

interface Arrived {
  readonly attributes: Record<string, unknown>;
  readonly contentType: string | undefined;
  readonly bytes: Buffer;
}

/** What a receiver got, read per content mode: attributes decoded, data as the bytes it stands for. */
function arrived(request: RecordedRequest, data: DataCase, mode: Mode): Arrived {
  if (mode === 'binary') {
    assert.doesNotMatch(String(request.headers['content-type']), /cloudevents/, 'binary mode');
    const attributes: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (!name.startsWith('ce-')) continue;
      assert.match(String(value), /^[\x21-\x7e]*$/, `ce- headers are printable ASCII: ${name}`);
      attributes[name.slice(3)] = percentDecoded(String(value));
    }
    return { attributes, contentType: request.headers['content-type'], bytes: request.body };
  }
  assert.equal(request.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
  const envelope = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
  assert.ok(!('data' in envelope && 'data_base64' in envelope), 'data or data_base64, not both');
  let bytes: Buffer;
  if (typeof envelope.data_base64 === 'string') bytes = Buffer.from(envelope.data_base64, 'base64');
  else if (typeof envelope.data === 'string' && !/json/.test(data.contentType))
    bytes = Buffer.from(envelope.data, 'utf8');
  else {
    // JSON data is embedded as the very text that came, not a re-serialisation of it.
    const embedded = Buffer.concat([Buffer.from('"data":'), data.bytes]);
    assert.ok(request.body.includes(embedded), `the JSON data is embedded as sent: ${request.body.toString('utf8')}`);
    bytes = data.bytes;
  }
  const attributes = Object.fromEntries(
    Object.entries(envelope).filter(([name]) => name !== 'data' && name !== 'data_base64'),
  );
  return { attributes, contentType: envelope.datacontenttype as string | undefined, bytes };
}

/** The real CloudEvents SDK reads what arrived (it does not percent-decode headers, so only structured mode). */
function sdkEvent(request: RecordedRequest): CloudEvent<unknown> {
  const event = HTTP.toEvent({
    headers: request.headers as Record<string, string>,
    body: request.body.toString('utf8'),
  }) as CloudEvent<unknown>;
  event.validate();
  return event;
}

const runtimes: RunningRuntime[] = [];
const receivers: Receiver[] = [];
after(async () => {
  for (const runtime of runtimes) await runtime.stop();
  for (const receiver of receivers) await receiver.close();
});

async function pair(env: Record<string, string>): Promise<{ runtime: RunningRuntime; receiver: Receiver }> {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const url = receiver.url;
  const runtime = await startRuntime({
    LOG_LEVEL: 'warn',
    ...env,
    ...(env.ROLE === 'handler' ? { BROKER_URL: url } : { KAFKA_SINK_URL: url }),
  });
  runtimes.push(runtime);
  return { runtime, receiver };
}

async function send(
  runtime: RunningRuntime,
  receiver: Receiver,
  request: { headers: Record<string, string>; body: Buffer },
): Promise<RecordedRequest> {
  receiver.requests.length = 0;
  const res = await fetch(runtime.url, { method: 'POST', headers: request.headers, body: request.body });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  assert.equal(receiver.requests.length, 1, 'one event reached the receiver');
  return receiver.requests[0] as RecordedRequest;
}

for (const outMode of ['binary', 'structured'] as const) {
  describe(`handler → broker in ${outMode} mode`, () => {
    let handler: { runtime: RunningRuntime; receiver: Receiver };
    before(async () => {
      handler = await pair({ ROLE: 'handler', BROKER_CONTENT_MODE: outMode });
    });

    for (const inMode of ['binary', 'structured'] as const) {
      for (const data of cases) {
        test(`${data.name}, sent in ${inMode} mode, arrives unchanged`, async () => {
          const id = `h-${inMode}-${outMode}-${data.name}`;
          const request = await send(handler.runtime, handler.receiver, requestFor(inMode, id, data));
          const got = arrived(request, data, outMode);
          assert.deepEqual(got.bytes, data.bytes, 'the data, byte for byte');
          assert.equal(got.contentType, data.contentType, 'the content type as given');
          assert.deepEqual(got.attributes, {
            specversion: '1.0',
            id,
            source: '/pass/through',
            type: 'com.example.pass',
            time: nanoTime,
            subject,
            myext: 'kept',
            ...(outMode === 'structured' ? { datacontenttype: data.contentType } : {}),
          });
          if (outMode === 'binary') assert.equal(request.headers['ce-subject'], subjectOnTheWire);
          // (The SDK itself turns `time` into milliseconds in UTC when it reads: the raw check above covers it.)
          else assert.equal(sdkEvent(request).subject, subject);
        });
      }
    }
  });
}

for (const outMode of ['binary', 'structured'] as const) {
  describe(`sink-forwarder (echo) → KafkaSink in ${outMode} mode`, () => {
    let forwarder: { runtime: RunningRuntime; receiver: Receiver };
    before(async () => {
      forwarder = await pair({ ROLE: 'sink-forwarder', FUNCTION: 'echo', SINK_CONTENT_MODE: outMode });
    });

    for (const inMode of ['binary', 'structured'] as const) {
      for (const data of cases) {
        test(`${data.name}, delivered in ${inMode} mode, is written unchanged with its content type`, async () => {
          const id = `s-${inMode}-${outMode}-${data.name}`;
          const request = await send(forwarder.runtime, forwarder.receiver, requestFor(inMode, id, data));
          const got = arrived(request, data, outMode);
          assert.deepEqual(got.bytes, data.bytes, 'the data, byte for byte');
          assert.equal(got.contentType, data.contentType, 'labelled with the content type it came with');
          assert.equal(got.attributes.subject, subject);
          assert.equal(got.attributes.sourceeventid, id);
          assert.equal(got.attributes.type, 'com.example.pass');
          if (outMode === 'binary') assert.equal(request.headers['ce-subject'], subjectOnTheWire);
          else assert.equal(sdkEvent(request).subject, subject);
        });
      }
    }
  });
}
