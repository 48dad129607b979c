// The start-up table: trigger filters in words on their own lines within 120 columns, suggestions that match a
// trigger of the values file (checked with the broker's filter code), the dlq admin URL with its token; and
// log lines whose name column is as wide before the services exist as after.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultDelivery } from './delivery.js';
import { matches, type TriggerFilter } from './filter.js';
import { createConsole } from './log.js';
import type { Plan, ServicePlan, TriggerPlan } from './plan.js';
import { eventFor, suggestEvents } from './suggest.js';
import { describeFilter, summary, tableWidth, type SummaryExtras } from './table.js';

const functionsDir = mkdtempSync(join(tmpdir(), 'table-functions-'));
after(() => rmSync(functionsDir, { recursive: true, force: true }));
mkdirSync(join(functionsDir, 'trade-transform'));
writeFileSync(join(functionsDir, 'trade-transform', 'example.json'), '{"trade_id": "T-1"}\n');

const svc = (
  short: string,
  port: number,
  role: string,
  fn?: string,
  env: Record<string, string> = {},
): ServicePlan => ({
  name: `local-knative-events-${short}`,
  namespace: 'default',
  short,
  role,
  functionName: fn,
  port,
  url: `http://127.0.0.1:${port}/`,
  env: { ROLE: role, ...env },
  volumes: [],
  timeoutSeconds: undefined,
});
const trigger = (name: string, filter: TriggerFilter, port: number): TriggerPlan => ({
  name: `local-knative-events-trigger-${name}-0a1b2c3d`,
  namespace: 'default',
  brokerPath: '/default/local',
  filter,
  subscriberUrl: `http://127.0.0.1:${port}/`,
  subscriberLabel: `Service/x-${name}`,
  delivery: {
    ...defaultDelivery,
    retry: 2,
    backoffPolicy: 'linear',
    backoffDelayMs: 200,
    timeoutMs: 30_000,
    deadLetterUrl: 'http://127.0.0.1:8083/',
  },
});
const longAny = { any: Array.from({ length: 12 }, (_, i) => ({ exact: { type: `com.example.kind-number-${i}` } })) };
const plan = (handlerEnv: Record<string, string> = {}): Plan => ({
  services: [
    svc('handler', 8080, 'handler', undefined, handlerEnv),
    svc('transformer', 8081, 'sink-forwarder', 'trade-transform'),
    svc('echo', 8082, 'subscriber', 'echo'),
    svc('dlq', 8083, 'dlq'),
  ],
  brokers: [
    { name: 'local', namespace: 'default', path: '/default/local', url: 'http://127.0.0.1:8084/default/local' },
  ],
  triggers: [
    trigger(
      'echo',
      { filters: [{ any: [{ prefix: { type: 'com.example.' } }, { exact: { type: 'event-subscriber-type' } }] }] },
      8082,
    ),
    trigger('trades', { attributes: { type: 'com.example.trade' } }, 8081),
    trigger('many', { filters: [longAny] }, 8082),
  ],
  pings: [],
  sinks: [],
  brokerIngressUrl: 'http://127.0.0.1:8084',
  sinkIngressUrl: 'http://127.0.0.1:8085',
  ignored: [],
});
const extras = (p: Plan, more: Partial<SummaryExtras> = {}): SummaryExtras => ({
  cwd: '/',
  nextPings: [],
  dlq: [
    {
      short: 'dlq',
      file: '/out/dlq/dead-letters.jsonl',
      adminUrl: 'http://127.0.0.1:8083/dead-letters',
      token: 'tok-0123456789abcdef',
      tokenFrom: 'token generated for this run',
      consoleUrl: undefined,
    },
  ],
  notReady: [],
  stateFile: '/out/state.json',
  suggestions: suggestEvents(p, functionsDir),
  handlerAuth: p.services[0]?.env.HANDLER_AUTH ?? 'off',
  ...more,
});

describe('the Triggers table', () => {
  it('fits 120 columns, with each filter in words on lines of its own', () => {
    const text = summary(plan(), extras(plan()));
    const triggers = text
      .slice(text.indexOf('Triggers\n'), text.indexOf('\n\n', text.indexOf('Triggers\n')))
      .split('\n');
    assert.deepEqual(
      triggers.filter((l) => l.length > tableWidth),
      [],
    );
    assert.match(triggers[1] ?? '', /^ {2}NAME\s+SUBSCRIBER\s+DELIVERY$/);
    assert.match(
      triggers[2] ?? '',
      /^ {2}trigger-echo-0a1b2c3d\s+echo\s+retry 2 linear 200 ms, timeout 30 s, dead letters → dlq$/,
    );
    assert.match(triggers[3] ?? '', /^ +filter: type starts with com\.example\. or type = event-subscriber-type$/);
    const many = triggers.findIndex((l) => l.includes('trigger-many'));
    assert.ok(triggers.length - many > 3, 'the long filter wraps onto several lines');
    const wrapped = triggers.slice(many + 1);
    assert.match(wrapped.join(' '), /type = com\.example\.kind-number-0 or .* or type = com\.example\.kind-number-11$/);
    assert.ok(
      wrapped.slice(0, -1).every((l) => l.endsWith(' or')),
      'broken after an "or", never inside a clause',
    );
  });

  it('describes every filter dialect', () => {
    assert.equal(describeFilter({}), 'all events');
    assert.equal(describeFilter({ attributes: { type: 't', source: '' } }), 'type = t and source is set');
    assert.equal(
      describeFilter({ filters: [{ all: [{ suffix: { type: '.created' } }, { not: { exact: { source: '/x' } } }] }] }),
      'type ends with .created and not (source = /x)',
    );
  });
});

describe('send a first event', () => {
  it('suggests one event per trigger, each matching it, the function example first', () => {
    const p = plan();
    const suggestions = suggestEvents(p, functionsDir);
    assert.deepEqual(
      suggestions.map((s) => s.trigger.replace(/^local-knative-events-/, '')),
      ['trigger-trades-0a1b2c3d', 'trigger-echo-0a1b2c3d', 'trigger-many-0a1b2c3d'],
    );
    for (const s of suggestions) {
      const t = p.triggers.find((x) => x.name === s.trigger);
      assert.ok(
        t && matches(t.filter, { specversion: '1.0', id: '1', type: s.type, source: s.source }),
        `${s.type} matches ${s.trigger}`,
      );
    }
    assert.equal(suggestions[0]?.data, '{"trade_id":"T-1"}');
    assert.equal(suggestions[1]?.data, '{"hello":"world"}');
    const text = summary(p, extras(p));
    assert.match(
      text,
      /\n {2}npm run send -- --type com\.example\.trade --source \/local\/try --data '\{"trade_id":"T-1"\}'\n/,
    );
    assert.match(text, /# → trigger trigger-trades-0a1b2c3d \(and trigger-echo-0a1b2c3d\)/);
    assert.match(
      text,
      /curl -i http:\/\/127\.0\.0\.1:8080\/ -H 'Content-Type: application\/json' -H 'ce_type: com\.example\.trade'/,
    );
  });

  it('signs when the handler wants HMAC (and offers no unsigned curl), and waits for a handler that is not ready', () => {
    const hmac = plan({ HANDLER_AUTH: 'hmac' });
    const text = summary(hmac, extras(hmac));
    assert.match(text, /npm run send -- --sign --type com\.example\.trade/);
    assert.doesNotMatch(text, /curl -i/);
    assert.match(
      summary(hmac, extras(hmac, { notReady: ['handler'] })),
      /Send a first event: not yet — handler is not ready/,
    );
  });

  it('finds events for nested and negated filters, and none for a contradiction', () => {
    assert.deepEqual(
      eventFor({ filters: [{ all: [{ prefix: { type: 'com.acme.' } }, { suffix: { type: '.created' } }] }] }),
      undefined,
      'prefix then suffix on one attribute: not found by this simple search',
    );
    assert.deepEqual(eventFor({ filters: [{ exact: { type: 'a', source: '/s', region: 'eu' } }] }), {
      type: 'a',
      source: '/s',
      region: 'eu',
    });
    assert.deepEqual(eventFor({ filters: [{ not: { exact: { type: 'com.example.try' } } }] }), undefined);
    assert.deepEqual(eventFor({ filters: [{ exact: { type: 'a' } }, { exact: { type: 'b' } }] }), undefined);
    assert.deepEqual(eventFor({}), { type: 'com.example.try', source: '/local/try' });
  });
});

describe('the dlq and the log columns', () => {
  it('prints the admin URL with the token, and a console line only when there is a console', () => {
    const p = plan();
    const text = summary(p, extras(p));
    assert.match(
      text,
      /admin API {2}curl -H 'Authorization: Bearer tok-0123456789abcdef' http:\/\/127\.0\.0\.1:8083\/dead-letters\n +\(token generated for this run\)/,
    );
    assert.doesNotMatch(text, /console/);
    const withConsole = extras(p, {
      dlq: [{ ...(extras(p).dlq[0] as SummaryExtras['dlq'][number]), consoleUrl: 'http://127.0.0.1:8083/console' }],
    });
    assert.match(summary(p, withConsole), /console {4}http:\/\/127\.0\.0\.1:8083\/console/);
  });

  it('keeps the name column as wide from the first line on, cutting longer names', () => {
    const lines: string[] = [];
    const out = createConsole({
      level: 'info',
      colour: false,
      write: (l) => lines.push(l),
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    out.component('runner').info('before the services exist');
    out.component('transformer').info('a service');
    out.component('a-very-long-service-name').info('cut');
    assert.deepEqual(
      lines.map((l) => l.indexOf('│')),
      [13, 13, 13],
    );
    assert.match(lines[2] ?? '', /^a-very-long…/);
  });
});
