// Dead letters kept as they came and replayed byte for byte, in both readable stores (a real temporary file;
// a real PostgreSQL server, test/helpers/postgres.ts): JSON with a number too big for a double, duplicate
// keys and its own key order, XML, protobuf bytes, Latin-1 text, a non-Latin-1 subject and a nanosecond
// time, in binary and structured mode, replayed to their failed destination (a loopback receiver that
// records the raw request), arriving with the same bytes and content type. Records written before the data
// was kept as it came (an old file line, an old table row) are still listed, shown and replayed.
// Also what the dlq must keep rather than refuse: a CloudEvent attribute sent in two headers (every other
// route refuses it with 400), and ce- header values percent-decoded in a raw capture, or kept as typed with
// the reason when their encoding is invalid.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminCall, waitFor } from './helpers/dead-letters.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'dlq-admin-token-for-fidelity-tests';
const cleanups: Array<() => Promise<unknown>> = [];
let pgServer: PostgresServer | undefined;
let databases = 0;

before(async () => {
  pgServer = await startPostgres();
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await pgServer?.close();
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dlq-fidelity-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'dead-letters.jsonl');
}

type StoreKind = 'file' | 'postgres';

async function storeEnv(kind: StoreKind): Promise<{ env: Record<string, string>; db?: string; file?: string }> {
  if (kind === 'file') {
    const file = await tempFile();
    return { env: { DLQ_FILE: file }, file };
  }
  const db = `fidelity_${++databases}`;
  return {
    env: { DLQ_STORE: 'postgres', DLQ_DATABASE_URL: await (pgServer as PostgresServer).createDatabase(db) },
    db,
  };
}

async function dlq(env: Record<string, string>): Promise<RunningRuntime> {
  const runtime = await startRuntime({
    ROLE: 'dlq',
    DLQ_ADMIN_TOKEN: token,
    LOG_LEVEL: 'warn',
    OUTBOUND_RETRIES: '0',
    ...env,
  });
  cleanups.push(() => runtime.stop());
  return runtime;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver({ status: 202 });
  cleanups.push(() => r.close());
  return r;
}

/** A raw HTTP POST: header values as given (an array is sent as that many header lines), the body's bytes. */
function post(
  url: string,
  headers: Record<string, string | string[]>,
  body: Buffer,
): Promise<{ status: number; id: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            id: res.headers['x-dead-letter-id'] as string | undefined,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const bigJson = '{"z":0,"id":12345678901234567890,"big":1e400,"dup":1,"dup":2,"a":[1.0,2.50],"s":"\\u00e9"}';
const protobuf = Buffer.from([0x08, 0x96, 0x01, 0x12, 0x04, 0x00, 0xff, 0x80, 0x0a, 0x1a, 0x00, 0x0d]);
const subject = '日本語 x%';
const encodedSubject = '%E6%97%A5%E6%9C%AC%E8%AA%9E%20x%25';
const nanoTime = '2026-01-01T10:00:00.123456789+02:00';

interface Case {
  readonly name: string;
  /** The request Knative's dispatcher sends to the dlq (knativeerror* added per case). */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** What the failed destination must receive again. */
  readonly expectBody: Buffer;
  readonly expectType: string;
}

function binary(name: string, id: string, contentType: string, data: Buffer, extra: Record<string, string> = {}): Case {
  return {
    name,
    headers: {
      'content-type': contentType,
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/fidelity',
      'ce-type': 'com.example.fidelity',
      ...extra,
    },
    body: data,
    expectBody: data,
    expectType: contentType,
  };
}

const cases: Case[] = [
  binary(
    'JSON: a big number, 1e400, duplicate keys, key order, 1.0',
    'json-1',
    'application/json',
    Buffer.from(bigJson),
    { 'ce-time': nanoTime },
  ),
  binary(
    'XML',
    'xml-1',
    'application/xml; charset=utf-8',
    Buffer.from('<?xml version="1.0"?>\n<trade id="T-1" px="1.50">€ 10</trade>'),
  ),
  binary('protobuf bytes', 'pb-1', 'application/protobuf', protobuf),
  binary(
    'Latin-1 text',
    'latin-1',
    'text/plain; charset=iso-8859-1',
    Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xa3]),
  ),
  binary('a non-Latin-1 subject (percent-encoded, §3.1.3.2)', 'subject-1', 'application/json', Buffer.from('{"n":1}'), {
    'ce-subject': encodedSubject,
  }),
  {
    name: 'structured mode: JSON data embedded with a big number and duplicate keys',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: Buffer.from(
      `{"specversion":"1.0","id":"structured-1","source":"/fidelity","type":"com.example.fidelity","datacontenttype":"application/json","subject":${JSON.stringify(subject)},"time":"${nanoTime}","data":{ "id" : 12345678901234567890, "dup":1, "dup":2 }}`,
    ),
    expectBody: Buffer.from('{ "id" : 12345678901234567890, "dup":1, "dup":2 }'),
    expectType: 'application/json',
  },
  {
    name: 'structured mode: protobuf as data_base64',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: Buffer.from(
      `{"specversion":"1.0","id":"structured-2","source":"/fidelity","type":"com.example.fidelity","datacontenttype":"application/x-protobuf","data_base64":"${protobuf.toString('base64')}"}`,
    ),
    expectBody: protobuf,
    expectType: 'application/x-protobuf',
  },
];

function ceHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (name.startsWith('ce-') && typeof value === 'string') out[name] = value;
  return out;
}

for (const kind of ['file', 'postgres'] as const) {
  describe(`dlq ${kind} store: dead letters replayed byte for byte`, () => {
    test('each arrives at its failed destination with the bytes and content type it came with', async () => {
      const destination = await receiver();
      const { env } = await storeEnv(kind);
      const runtime = await dlq(env);
      const stored: Array<{ c: Case; id: string; path: string }> = [];
      for (const [i, c] of cases.entries()) {
        const path = `/subscriber-${i}`;
        const dest = new URL(path, destination.url).href;
        // The error extensions Knative adds: ce- headers in binary mode, members of the event in structured mode.
        const res =
          c.headers['content-type'] === 'application/cloudevents+json'
            ? await post(
                runtime.url,
                c.headers,
                Buffer.concat([
                  Buffer.from(`{"knativeerrordest":${JSON.stringify(dest)},"knativeerrorcode":"500",`),
                  c.body.subarray(1),
                ]),
              )
            : await post(
                runtime.url,
                {
                  ...c.headers,
                  'ce-knativeerrordest': dest,
                  'ce-knativeerrorcode': '500',
                  'ce-knativeerrordata': Buffer.from('boom').toString('base64'),
                },
                c.body,
              );
        assert.equal(res.status, 202, `${c.name}: ${res.text}`);
        stored.push({ c, id: res.id as string, path });
      }

      for (const { c, id } of stored) {
        const shown = await adminCall(runtime.url, token, `/dead-letters/${id}`);
        assert.equal(shown.status, 200);
        assert.equal(shown.body.deadLetter.invalid, undefined, `${c.name}: stored as a valid CloudEvent`);
        const data = shown.body.deadLetter.data;
        const bytes =
          typeof data.text === 'string' ? Buffer.from(data.text, 'utf8') : Buffer.from(data.base64, 'base64');
        assert.deepEqual(bytes, c.expectBody, `${c.name}: the stored data is the bytes that came`);
      }
      const big = await adminCall(runtime.url, token, `/dead-letters/${stored[0]!.id}`);
      assert.equal(big.body.deadLetter.data.text, bigJson, 'JSON kept as its own text, readable');
      assert.equal(big.body.deadLetter.event.time, nanoTime, 'time as given');
      assert.equal(big.body.deadLetter.event.data.z, 0, 'the API still shows JSON data parsed');
      const withSubject = await adminCall(runtime.url, token, `/dead-letters/${stored[4]!.id}`);
      assert.equal(withSubject.body.deadLetter.event.subject, subject, 'the ce-subject header percent-decoded');

      // After a restart: what is replayed comes from the store, not from memory.
      await runtime.stop();
      const restarted = await dlq(env);
      for (const { c, id, path } of stored) {
        const replay = await adminCall(restarted.url, token, `/dead-letters/${id}/replay`, 'POST');
        assert.equal(replay.status, 200, `${c.name}: ${JSON.stringify(replay.body)}`);
        assert.equal(replay.body.to, 'destination');
        const got = destination.requests.filter((r) => r.path === path);
        assert.equal(got.length, 1, `${c.name}: one copy at its destination`);
        const sent = got[0]!;
        assert.deepEqual(sent.body, c.expectBody, `${c.name}: the same bytes`);
        assert.equal(sent.headers['content-type'], c.expectType, `${c.name}: the same content type`);
        const ce = ceHeaders(sent.headers);
        assert.equal(ce['ce-source'], '/fidelity');
        assert.equal(ce['ce-type'], 'com.example.fidelity');
        assert.equal(ce['ce-replayid'], replay.body.replayId);
        assert.equal(ce['ce-knativeerrordest'], undefined);
        assert.equal(ce['ce-knativeerrorcode'], undefined);
        assert.equal(ce['ce-knativeerrordata'], undefined);
      }
      const at = (i: number) => ceHeaders(destination.requests.find((r) => r.path === `/subscriber-${i}`)!.headers);
      assert.equal(at(0)['ce-time'], nanoTime, 'time goes out as given, nanoseconds and offset');
      assert.equal(at(0)['ce-id'], 'json-1', 'the original id');
      assert.equal(at(4)['ce-subject'], encodedSubject, 'a non-Latin-1 subject goes out percent-encoded');
      assert.equal(at(5)['ce-subject'], encodedSubject);
      assert.equal(at(5)['ce-time'], nanoTime);
      assert.equal(destination.requests.length, cases.length);
    });

    test('a record written before data was kept as it came is still shown and replayed', async () => {
      const destination = await receiver();
      const { env, file, db } = await storeEnv(kind);
      const dest = new URL('/old', destination.url).href;
      const oldJson = {
        kind: 'dead-letter',
        id: 'old-json',
        receivedAt: '2026-11-01T10:00:00.000Z',
        error: { destination: dest, code: '500', data: 'boom' },
        event: {
          specversion: '1.0',
          id: 'o-1',
          source: '/old',
          type: 'com.example.old',
          datacontenttype: 'application/json',
          knativeerrordest: dest,
          knativeerrorcode: '500',
          data: { b: [true, null], a: 1 },
        },
      };
      const oldBinary = {
        kind: 'dead-letter',
        id: 'old-binary',
        receivedAt: '2026-11-01T10:00:01.000Z',
        error: { destination: dest, code: '500', data: undefined },
        event: {
          specversion: '1.0',
          id: 'o-2',
          source: '/old',
          type: 'com.example.old',
          datacontenttype: 'application/octet-stream',
          knativeerrordest: dest,
          data_base64: protobuf.toString('base64'),
        },
      };
      let runtime: RunningRuntime;
      if (file) {
        // Lines exactly as the previous version wrote them.
        await writeFile(file, `${JSON.stringify(oldJson)}\n${JSON.stringify(oldBinary)}\n`);
        runtime = await dlq(env);
      } else {
        runtime = await dlq(env); // creates the table
        const server = pgServer as PostgresServer;
        for (const letter of [oldJson, oldBinary]) {
          await server.query(
            db as string,
            `INSERT INTO public.dead_letters (id, received_at, event_id, event_type, event_source, error_code, error_destination, duplicate_key, invalid, letter)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, false, $8)`,
            [
              letter.id,
              letter.receivedAt,
              letter.event.id,
              letter.event.type,
              letter.event.source,
              letter.error.code,
              letter.error.destination,
              JSON.stringify(letter),
            ],
          );
        }
      }
      const list = await adminCall(runtime.url, token, '/dead-letters?type=com.example.old');
      assert.deepEqual(
        list.body.items.map((i: { id: string }) => i.id),
        ['old-binary', 'old-json'],
      );
      const shown = await adminCall(runtime.url, token, '/dead-letters/old-json');
      assert.deepEqual(shown.body.deadLetter.event.data, { b: [true, null], a: 1 });
      assert.equal(shown.body.deadLetter.data, undefined);

      const replayJson = await adminCall(runtime.url, token, '/dead-letters/old-json/replay', 'POST');
      assert.equal(replayJson.status, 200, JSON.stringify(replayJson.body));
      const replayBinary = await adminCall(runtime.url, token, '/dead-letters/old-binary/replay', 'POST');
      assert.equal(replayBinary.status, 200, JSON.stringify(replayBinary.body));
      await waitFor('both old records at their destination', () =>
        destination.requests.length === 2 ? true : undefined,
      );
      const [json, bytes] = destination.requests;
      assert.equal(json!.headers['ce-id'], 'o-1');
      assert.equal(json!.headers['content-type'], 'application/json');
      assert.equal(json!.body.toString('utf8'), '{"b":[true,null],"a":1}', 'the parsed value written again, as before');
      assert.equal(json!.headers['ce-knativeerrordest'], undefined);
      assert.equal(bytes!.headers['ce-id'], 'o-2');
      assert.equal(bytes!.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(bytes!.body, protobuf);
      if (file) {
        const lines = (await readFile(file, 'utf8')).trim().split('\n');
        assert.equal(lines.length, 4, 'two old records and their two replay markers');
        assert.deepEqual(JSON.parse(lines[0]!), oldJson, 'the old line is left as it was');
      }
    });
  });
}

describe('dlq: what it keeps rather than refuses', () => {
  test('a CloudEvent attribute sent in two headers is stored raw with both values (the handler still refuses it)', async () => {
    const file = await tempFile();
    const runtime = await dlq({ DLQ_FILE: file });
    const body = Buffer.from('{"n":1}');
    const res = await post(
      runtime.url,
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'dup-1',
        'ce-source': '/dup',
        'ce-type': ['com.example.first', 'com.example.second'],
        'ce-knativeerrorcode': '500',
      },
      body,
    );
    assert.equal(res.status, 202, res.text);
    const shown = await adminCall(runtime.url, token, `/dead-letters/${res.id}`);
    const letter = shown.body.deadLetter;
    assert.match(letter.invalid, /"type" was sent in more than one header/);
    assert.match(
      letter.invalid,
      /ce-type was sent 2 times, the first kept \("com\.example\.first", "com\.example\.second"\)/,
    );
    assert.equal(letter.event.type, 'com.example.first');
    assert.equal(letter.event.id, 'dup-1');
    assert.equal(letter.event.data_base64, body.toString('base64'), 'the body kept byte for byte');
    assert.equal(letter.error.code, '500');

    const broker = await receiver();
    const handler = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, LOG_LEVEL: 'warn' });
    cleanups.push(() => handler.stop());
    const refused = await post(
      handler.url,
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'dup-2',
        'ce-source': '/dup',
        'ce-type': ['a', 'b'],
      },
      body,
    );
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.text).error.type, 'invalid_event');
    assert.equal(broker.requests.length, 0);
  });

  test('a raw capture percent-decodes ce- headers, and keeps one with an invalid encoding as typed, saying so', async () => {
    const runtime = await dlq({ DLQ_FILE: await tempFile() });
    const body = Buffer.from('{"broken": ');
    const res = await post(
      runtime.url,
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'pct-1',
        'ce-source': '/pct',
        'ce-type': 'com.example.pct',
        'ce-subject': encodedSubject,
        'ce-note': '100%ZZ sure',
        'ce-bytes': '%C3%28',
      },
      body,
    );
    assert.equal(res.status, 202, res.text);
    const letter = (await adminCall(runtime.url, token, `/dead-letters/${res.id}`)).body.deadLetter;
    assert.ok(letter.invalid, 'broken JSON data: stored raw');
    assert.equal(letter.event.subject, subject, 'decoded where the encoding is valid');
    assert.equal(letter.event.note, '100%ZZ sure', 'kept as typed where it is not');
    assert.equal(letter.event.bytes, '%C3%28', 'percent-encoded bytes that are not UTF-8: kept as typed');
    assert.match(letter.invalid, /ce-note kept as typed: header ce-note: "%" must start a percent-encoded byte/);
    assert.match(
      letter.invalid,
      /ce-bytes kept as typed: header ce-bytes: the percent-encoded bytes are not valid UTF-8/,
    );
    assert.equal(letter.event.data_base64, body.toString('base64'));
  });
});
