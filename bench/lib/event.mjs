// The one request every target receives: a binary-mode CloudEvent (attributes in ce- headers) whose body is a
// 309-byte JSON trade, the size the goals were set with. Every target must echo the data back.
const trade = {
  tradeId: 'T-2026-000123456',
  instrument: { isin: 'US0378331005', symbol: 'AAPL', exchange: 'XNAS' },
  side: 'BUY',
  quantity: 1500,
  price: 187.42,
  currency: 'USD',
  counterparty: { lei: '5493001KJTIIGC8Y1R12', name: 'Example Bank AG' },
  tradeDate: '2026-11-24',
  settlementDate: '2026-11-26',
  book: 'EQ-FLOW-001',
};

export const body = JSON.stringify(trade);
export const data = trade;
if (body.length !== 309) throw new Error(`the benchmark body must be 309 bytes, it is ${body.length}`);

export const headers = {
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': 'bench-0001',
  'ce-source': '/bench/loadgen',
  'ce-type': 'dev.knative-events.bench.trade',
  'ce-time': '2026-11-24T10:00:00Z',
};

/** The handler's ingress gets what existing clients send: plain JSON with ce_ headers. */
export const legacyHeaders = {
  'content-type': 'application/json',
  ce_type: 'dev.knative-events.bench.trade',
  ce_source: '/bench/loadgen',
};

/** What a broker receives from the handler (structured mode, its default), for the direct-post floor. */
export const structuredBody = JSON.stringify({
  specversion: '1.0',
  id: 'bench-0001',
  source: '/bench/loadgen',
  type: 'dev.knative-events.bench.trade',
  time: '2026-11-24T10:00:00Z',
  datacontenttype: 'application/json',
  data: trade,
});
export const structuredHeaders = { 'content-type': 'application/cloudevents+json; charset=utf-8' };

/** Throws unless a server's answer carries the event data back: a fast wrong answer is no result. */
export function checkEcho(/** @type {string} */ name, /** @type {{ body: string }} */ answer) {
  if (answer.body.length === 0 || JSON.stringify(JSON.parse(answer.body)) !== body) {
    throw new Error(`${name} did not echo the event data: ${answer.body.slice(0, 200)}`);
  }
}
