// A line written by hand (runtime/log-line.ts) is byte for byte the line pino writes for log.info(object, msg):
// same prefix, time, bindings, fields in order, message and end; and every logger or value the hand-written path
// cannot serialise exactly goes through pino itself.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'node:test';
import pino from 'pino';
import { infoLineWriter, writesByHand, type LineValue } from '../runtime/log-line.js';
import { createLogger } from '../runtime/logger.js';

const keys = ['method', 'path', 'status', 'durationMs', 'eventId'];
const writeLine = infoLineWriter(keys, 'request');
const fixedTime = () => ',"time":"2026-12-01T00:00:00.000Z"';

/** A pino logger writing into a list, with these options on top of the runtime's. */
function capturing(options: pino.LoggerOptions = {}) {
  const lines: string[] = [];
  const log = pino(
    { level: 'info', base: { role: 'subscriber', pid: 7 }, messageKey: 'msg', timestamp: fixedTime, ...options },
    { write: (line: string) => void lines.push(line) },
  );
  return { log, lines };
}

/** The same values logged by hand and by pino: the two lines, in that order. */
function bothWays(values: readonly LineValue[], options: pino.LoggerOptions = {}, child?: Record<string, unknown>) {
  const { log, lines } = capturing(options);
  const logger = child ? log.child(child) : log;
  writeLine(logger, values);
  const fields: Record<string, LineValue> = {};
  keys.forEach((key, i) => (fields[key] = values[i]));
  logger.info(fields, 'request');
  return lines;
}

const plain: LineValue[] = ['POST', '/', 200, 1.234, 'id-1'];

test('the line by hand is the line pino writes, byte for byte', () => {
  const [byHand, byPino] = bothWays(plain);
  assert.equal(
    byHand,
    '{"level":30,"time":"2026-12-01T00:00:00.000Z","role":"subscriber","pid":7,"method":"POST","path":"/","status":200,"durationMs":1.234,"eventId":"id-1","msg":"request"}\n',
  );
  assert.equal(byHand, byPino);
});

test("with the runtime's logger (level label, ISO time) and a child's bindings, the same line", () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', base: { role: 'handler' }, destination: { write: (l) => lines.push(l) } });
  assert.equal(writesByHand(log, keys), true, 'the runtime logger takes the hand-written path');
  const child = log.child({ function: 'echo' });
  writeLine(child, plain);
  child.info({ method: 'POST', path: '/', status: 200, durationMs: 1.234, eventId: 'id-1' }, 'request');
  const [byHand, byPino] = lines.map((line) => line.replace(/"time":"[^"]*"/, '"time":"T"'));
  assert.match(byHand ?? '', /^\{"level":"info","time":"T","role":"handler","function":"echo","method":"POST"/);
  assert.equal(byHand, byPino);
});

test('values left out, numbers that are not finite, and text pino must escape come out as pino writes them', () => {
  const cases: LineValue[][] = [
    ['POST', '/', 200, undefined, undefined],
    ['POST', '/', 200, Number.NaN, 'id'],
    ['POST', '/', 200, Number.POSITIVE_INFINITY, 'id'],
    ['POST', '/', -0, 0.1 + 0.2, 'id'],
    ['POST', '/a"b', 200, 1, 'back\\slash'],
    ['POST', '/', 200, 1, 'tab\there'],
    ['POST', '/', 200, 1, 'lone \ud800 surrogate'],
    ['POST', '/', 200, 1, 'ü and 日本'],
    ['POST', '/', 200, 1, `${'x'.repeat(120)}"`],
  ];
  for (const values of cases) {
    const [byHand, byPino] = bothWays(values);
    assert.ok(byHand !== undefined && byPino !== undefined, 'both wrote a line');
    assert.equal(byHand, byPino, JSON.stringify(values));
  }
});

test('a logger that changes lines (serializers, redaction, mixin, hooks, prefix, nested key) gets pino’s own line', () => {
  const options: Array<[string, pino.LoggerOptions]> = [
    ['serializer', { serializers: { path: (p: string) => `<${p}>` } }],
    ['redact', { redact: ['eventId'] }],
    ['mixin', { mixin: () => ({ extra: 1 }) }],
    ['log formatter', { formatters: { log: (o: Record<string, unknown>) => ({ ...o, seen: true }) } }],
    [
      'logMethod hook',
      {
        hooks: {
          logMethod(this: pino.Logger, args, method) {
            method.apply(this, args);
          },
        },
      },
    ],
    ['streamWrite hook', { hooks: { streamWrite: (s: string) => s.replace('POST', 'post') } }],
    ['msgPrefix', { msgPrefix: '[x] ' }],
    ['nestedKey', { nestedKey: 'payload' }],
    ['messageKey', { messageKey: 'message' }],
  ];
  for (const [name, option] of options) {
    const { log: logger, lines } = capturing(option);
    if (name !== 'messageKey') assert.equal(writesByHand(logger, keys), false, name);
    writeLine(logger, plain);
    logger.info({ method: 'POST', path: '/', status: 200, durationMs: 1.234, eventId: 'id-1' }, 'request');
    assert.equal(lines.length, 2, name);
    assert.equal(lines[0], lines[1], name);
  }
});

test('a level above info writes nothing, as pino does', () => {
  const { log, lines } = capturing({ level: 'warn' });
  writeLine(log, plain);
  assert.deepEqual(lines, []);
  log.level = 'info';
  writeLine(log, plain);
  assert.equal(lines.length, 1, 'the level is read at each line, not once');
});

test("a subscriber to pino's serialising channel sees the line serialised by pino", () => {
  const seen: unknown[] = [];
  const onStart = (message: unknown) => seen.push(message);
  subscribe('tracing:pino_asJson:start', onStart);
  try {
    const [byHand, byPino] = bothWays(plain);
    assert.equal(byHand, byPino);
  } finally {
    unsubscribe('tracing:pino_asJson:start', onStart);
  }
  assert.equal(seen.length, 2, 'both lines went through pino');
});
