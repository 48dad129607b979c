// trade-transform against its real mapping.json: the happy path, conversions, defaults, and the trades
// that must be rejected permanently with every problem named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent } from 'cloudevents';
import pino from 'pino';
import { isReply, noSpan, PermanentError, type FunctionContext } from '../../runtime/function-api.js';
import tradeTransform from './index.js';
import { loadMapping } from './mapping.js';

const context: FunctionContext = {
  log: pino({ level: 'silent' }),
  config: {},
  secrets: { get: () => undefined },
  signal: new AbortController().signal,
  span: noSpan,
};
const trade = {
  trade_id: 'T-1001',
  instrument: { ticker: 'aapl' },
  qty: '150',
  px: 189.25,
  side: 'b',
  trade_time: '2026-11-25T09:30:00+01:00',
};
const run = (data: unknown) =>
  tradeTransform(new CloudEvent({ id: 'evt-1', type: 'trade.received', source: '/provider', data }), context);

test('a provider trade is mapped: renames, conversions, enum values and defaults', () => {
  const result = run(trade);
  assert.ok(isReply(result));
  assert.equal(result.type, 'com.example.trade.normalized');
  assert.equal(result.subject, 'T-1001');
  assert.equal(result.tradeevent, 'evt-1', 'the incoming event id stays traceable');
  assert.deepEqual(result.data, {
    tradeId: 'T-1001',
    symbol: 'AAPL',
    quantity: 150,
    price: 189.25,
    side: 'BUY',
    currency: 'USD',
    tradedAt: '2026-11-25T08:30:00.000Z',
    venue: 'UNKNOWN',
    settled: false,
  });
});

test('a trade that cannot be mapped is a PermanentError (422) listing every problem', () => {
  try {
    run({ ...trade, trade_id: undefined, qty: '1.5', side: 'hold', trade_time: 'soon' });
    assert.fail('expected a rejection');
  } catch (err) {
    assert.ok(err instanceof PermanentError);
    assert.equal(err.status, 422);
    assert.deepEqual(err.details, [
      'tradeId (from trade_id): required but missing',
      'quantity (from qty): expected a whole number, got "1.5"',
      'side (from side): expected one of B, BUY, S, SELL, got "hold"',
      'tradedAt (from trade_time): expected a date-time (ISO 8601) or epoch milliseconds, got "soon"',
    ]);
  }
});

test('a trade time a Date cannot hold is a 422 problem, not a RangeError', () => {
  for (const time of [1e16, -1e16, Number.MAX_VALUE]) {
    assert.throws(
      () => run({ ...trade, trade_time: time }),
      (err: unknown) =>
        err instanceof PermanentError &&
        err.details.length === 1 &&
        /tradedAt \(from trade_time\): expected a time between the years/.test(err.details[0] ?? ''),
      String(time),
    );
  }
  const latest = run({ ...trade, trade_time: 8.64e15 });
  assert.ok(isReply(latest));
  assert.equal((latest.data as { tradedAt: string }).tradedAt, '+275760-09-13T00:00:00.000Z');
});

test('data that is not an object is rejected permanently', () => {
  for (const data of ['a string', [1, 2], null]) {
    assert.throws(
      () => run(data),
      (err: unknown) => err instanceof PermanentError && err.details[0] === 'the trade must be a JSON object',
    );
  }
});

test('a negative price or zero quantity is refused by the mapping minimums', () => {
  assert.throws(
    () => run({ ...trade, px: -1, qty: 0 }),
    (err: unknown) => err instanceof PermanentError && err.details.length === 2,
  );
});

test('an invalid mapping fails when the function loads, naming the field', () => {
  assert.throws(
    () => loadMapping({ outputType: 'x', fields: { a: { from: 'a', type: 'enum' } } }),
    /fields\.a.*an enum field needs "values"/,
  );
  assert.throws(
    () => loadMapping({ outputType: 'x', fields: { a: { from: 'a', type: 'string', requird: true } } }),
    /invalid/,
  );
  assert.throws(
    () => loadMapping({ outputType: 'x', fields: { a: { from: 'a', type: 'string', required: true, default: 'x' } } }),
    /either required or has a default/,
  );
});
