// The values behind the runtime's newer variables: OUTBOUND_DEADLINE_MS and MEMORY_BUDGET_BYTES (every role), the
// handler's HANDLER_AUTH* (services.<name>.auth) and the dlq's DLQ_REPLAY_* (services.<name>.dlq.replay). Each
// rendered env also goes through the runtime's own parseConfig, as runtime-config.test.ts does for the values files.
// The render-time refusals are bad-values fixtures (outbound-deadline-above-timeout, memory-budget-auto-without-limit,
// dlq-replay-rate-above-max, handler-auth-on-subscriber).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../runtime/config.js';
import { ensureHelm, render, type K8sObject } from './helm.js';
import { container, env, ksvc } from './contract.js';

ensureHelm();

const standIn = (name: string): string => (name === 'DLQ_DATABASE_URL' ? 'postgres://dlq:secret@db.example:5432/dead_letters' : 'a-secret-value-of-32-characters!');

/** parseConfig on a rendered Service's env, with stand-ins for Secret keys and secret: references. */
function parsed(s: K8sObject): ReturnType<typeof parseConfig> {
  const e: Record<string, string> = { PORT: '8080', K_SERVICE: s.metadata.name, K_REVISION: `${s.metadata.name}-00001` };
  for (const x of container(s).env ?? []) e[x.name] = x.value ?? standIn(x.name);
  return parseConfig(e, { get: standIn });
}

describe('OUTBOUND_DEADLINE_MS and MEMORY_BUDGET_BYTES', () => {
  it('every service gets the defaults: 25000 ms and auto (the default resources set a memory limit)', () => {
    for (const s of render(4).filter((o) => o.kind === 'Service')) {
      const e = env(s);
      assert.equal(e.OUTBOUND_DEADLINE_MS, '25000', s.metadata.name);
      assert.equal(e.MEMORY_BUDGET_BYTES, 'auto', s.metadata.name);
      const c = parsed(s);
      assert.equal(c.outbound.deadlineMs, 25_000);
      assert.equal(c.memoryBudgetBytes, undefined, 'auto: derived from the cgroup limit at start-up');
    }
  });
  it('per-service values win over serviceDefaults; large numbers are rendered as digits', () => {
    const objs = render(4, { set: ['serviceDefaults.timeoutSeconds=600', 'serviceDefaults.outboundDeadlineMs=599999', 'services.echo.memoryBudgetBytes=268435456', 'services.echo.outboundDeadlineMs=1000'] });
    assert.equal(env(ksvc(objs, 'handler')).OUTBOUND_DEADLINE_MS, '599999');
    const echo = ksvc(objs, 'echo');
    assert.deepEqual({ d: env(echo).OUTBOUND_DEADLINE_MS, m: env(echo).MEMORY_BUDGET_BYTES }, { d: '1000', m: '268435456' });
    assert.equal(parsed(echo).memoryBudgetBytes, 268_435_456);
  });
  it('a number of bytes needs no memory limit', () => {
    const objs = render(4, { set: ['services.echo.memoryBudgetBytes=67108864', 'services.echo.resources.limits=null'] });
    assert.equal(env(ksvc(objs, 'echo')).MEMORY_BUDGET_BYTES, '67108864');
  });
});

describe('handler auth (services.<name>.auth)', () => {
  it('default: HANDLER_AUTH=off and nothing else', () => {
    const e = env(ksvc(render(4), 'handler'));
    assert.equal(e.HANDLER_AUTH, 'off');
    for (const n of ['HANDLER_AUTH_SECRET', 'HANDLER_AUTH_WINDOW_SECONDS', 'HANDLER_AUTH_FUTURE_SKEW_SECONDS', 'HANDLER_AUTH_REPLAY_CAPACITY']) assert.ok(!(n in e), n);
    for (const role of ['echo', 'transformer', 'dlq']) assert.ok(!('HANDLER_AUTH' in env(ksvc(render(4), role))), role);
  });
  it('values/prod.yaml: hmac with the window, clock skew and replay capacity, accepted by the runtime', () => {
    const h = ksvc(render(4, { files: ['values/prod.yaml'] }), 'handler');
    const e = env(h);
    assert.deepEqual(
      [e.HANDLER_AUTH, e.HANDLER_AUTH_SECRET, e.HANDLER_AUTH_WINDOW_SECONDS, e.HANDLER_AUTH_FUTURE_SKEW_SECONDS, e.HANDLER_AUTH_REPLAY_CAPACITY],
      ['hmac', 'HANDLER_AUTH_KEYS', '300', '5', '200000'],
    );
    const c = parsed(h);
    assert.ok(c.role === 'handler');
    assert.deepEqual(c.callerAuth, { mode: 'hmac', secretName: 'HANDLER_AUTH_KEYS', windowMs: 300_000, futureSkewMs: 5000, replayCapacity: 200_000 });
  });
  it('a skew of 0 is rendered (not replaced by the default); bearer gets the secret name only', () => {
    const hmac = env(ksvc(render(4, { set: ['services.handler.auth.mode=hmac', 'services.handler.auth.futureSkewSeconds=0', 'services.handler.auth.replayCapacity=5000000'] }), 'handler'));
    assert.equal(hmac.HANDLER_AUTH_FUTURE_SKEW_SECONDS, '0');
    assert.equal(hmac.HANDLER_AUTH_REPLAY_CAPACITY, '5000000');
    const bearer = env(ksvc(render(4, { set: ['services.handler.auth.mode=bearer', 'services.handler.auth.secret=INGRESS_KEYS'] }), 'handler'));
    assert.deepEqual([bearer.HANDLER_AUTH, bearer.HANDLER_AUTH_SECRET, bearer.HANDLER_AUTH_WINDOW_SECONDS], ['bearer', 'INGRESS_KEYS', undefined]);
  });
});

describe('dlq replay (services.<name>.dlq.replay)', () => {
  it('default: 50/s, at most 500, no extra targets, BROKER_URL kept (to=broker, replies)', () => {
    const dlq = ksvc(render(4), 'dlq');
    const e = env(dlq);
    assert.deepEqual([e.DLQ_REPLAY_RATE, e.DLQ_REPLAY_RATE_MAX, e.DLQ_REPLAY_TARGETS], ['50', '500', undefined]);
    assert.match(e.BROKER_URL ?? '', /^http:\/\/kafka-broker-ingress\./);
    for (const other of ['handler', 'echo', 'transformer']) assert.ok(!('DLQ_REPLAY_RATE' in env(ksvc(render(4), other))), other);
  });
  it('targets: a list in values, comma-separated in the env, accepted by the runtime', () => {
    const dlq = ksvc(
      render(4, { set: ['services.dlq.dlq.replay.targets={http://quarantine.events.svc.cluster.local/in,https://audit.example.com/replayed}', 'services.dlq.dlq.replay.rate=10', 'services.dlq.dlq.replay.rateMax=10000'] }),
      'dlq',
    );
    const e = env(dlq);
    assert.equal(e.DLQ_REPLAY_TARGETS, 'http://quarantine.events.svc.cluster.local/in,https://audit.example.com/replayed');
    assert.deepEqual([e.DLQ_REPLAY_RATE, e.DLQ_REPLAY_RATE_MAX], ['10', '10000']);
    const c = parsed(dlq);
    assert.ok(c.role === 'dlq');
    assert.deepEqual(c.replay, { targets: ['http://quarantine.events.svc.cluster.local/in', 'https://audit.example.com/replayed'], defaultRate: 10, maxRate: 10_000 });
  });
});
