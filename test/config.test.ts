import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../runtime/config.js';
import { functionRegistry } from '../runtime/function-registry.js';

/** The names main.ts would pass from the build's registry (functions/index.ts). */
const functionNames = ['echo', 'trade-transform'];

function problems(env: Record<string, string>): readonly string[] {
  try {
    parseConfig(env, undefined, functionNames);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be refused');
}

test('a handler config gets its defaults: port 8080, structured mode, 1 MiB body limit', () => {
  const config = parseConfig({ ROLE: 'handler', BROKER_URL: 'http://broker.local/ns/default' });
  assert.equal(config.role, 'handler');
  assert.equal(config.port, 8080);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.maxBodyBytes, 1024 * 1024);
  assert.equal(config.shutdownTimeoutMs, 30_000);
  assert.deepEqual(config.outbound, {
    timeoutMs: 5000,
    retries: 3,
    backoffMs: 100,
    backoffMaxMs: 2000,
    deadlineMs: 25000,
  });
  if (config.role !== 'handler') throw new Error('unreachable');
  assert.equal(config.brokerUrl, 'http://broker.local/ns/default');
  assert.equal(config.brokerContentMode, 'structured');
  assert.ok(Object.isFrozen(config));
});

test('K_SERVICE names the service when Knative injects it', () => {
  const config = parseConfig({
    ROLE: 'subscriber',
    FUNCTION: 'echo',
    K_SERVICE: 'echo-svc',
    K_REVISION: 'echo-svc-00001',
  });
  assert.equal(config.service, 'echo-svc');
  assert.equal(config.revision, 'echo-svc-00001');
});

test('every problem is reported at once, each naming its variable and what it expects', () => {
  const found = problems({
    ROLE: 'handler',
    PORT: '70000',
    LOG_LEVEL: 'loud',
    BROKER_URL: 'ftp://x',
    MAX_BODY_BYTES: '-1',
  });
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found.find((p) => p.startsWith('PORT:')) ?? '', /whole number from 1 to 65535 \(got "70000"\)/);
  assert.match(found.find((p) => p.startsWith('LOG_LEVEL:')) ?? '', /one of trace, debug, info/);
  assert.match(found.find((p) => p.startsWith('BROKER_URL:')) ?? '', /http\(s\) URL/);
  assert.match(found.find((p) => p.startsWith('MAX_BODY_BYTES:')) ?? '', /whole number/);
});

test('a missing ROLE or required variable says it is required and what to put there', () => {
  assert.deepEqual(problems({}), ['ROLE: is required: one of handler, subscriber, sink-forwarder, dlq']);
  assert.match(problems({ ROLE: 'handler' })[0] ?? '', /^BROKER_URL: is required: the Knative Broker ingress URL/);
  assert.match(
    problems({ ROLE: 'subscriber' })[0] ?? '',
    /^FUNCTION: is required: the function to run, one of echo, trade-transform/,
  );
  assert.match(problems({ ROLE: 'sink-forwarder', FUNCTION: 'echo' })[0] ?? '', /^KAFKA_SINK_URL: is required/);
});

test('an unknown ROLE or FUNCTION lists the known ones', () => {
  assert.match(
    problems({ ROLE: 'gateway' })[0] ?? '',
    /ROLE: expected one of handler, subscriber, sink-forwarder, dlq \(got "gateway"\)/,
  );
  assert.match(
    problems({ ROLE: 'subscriber', FUNCTION: 'nope' })[0] ?? '',
    /FUNCTION: expected a function under functions\/: one of echo, trade-transform \(got "nope"\)/,
  );
});

test('without the registry names any FUNCTION passes the config, and the registry refuses an unknown one when it loads', async () => {
  assert.equal(
    (parseConfig({ ROLE: 'subscriber', FUNCTION: 'nope' }) as { functionName: string }).functionName,
    'nope',
  );
  assert.match(problems({ ROLE: 'subscriber', FUNCTION: ' ' })[0] ?? '', /^FUNCTION: is required/);
  const registry = functionRegistry(functionNames, { echo: async () => ({ default: () => undefined }) });
  assert.equal(typeof (await registry.load('echo')).default, 'function');
  await assert.rejects(
    registry.load('nope'),
    (err: unknown) => err instanceof ConfigError && /FUNCTION: unknown function "nope"/.test(err.message),
  );
});

test('empty values count as unset (Helm renders a missing value as "")', () => {
  const config = parseConfig({ ROLE: 'subscriber', FUNCTION: 'echo', PORT: '', LOG_LEVEL: ' ' });
  assert.equal(config.port, 8080);
  assert.equal(config.logLevel, 'info');
});

test('values are trimmed and case-insensitive where that is safe', () => {
  const config = parseConfig({
    ROLE: ' handler ',
    BROKER_URL: ' http://b/ ',
    BROKER_CONTENT_MODE: 'BINARY',
    LOG_LEVEL: 'Debug',
  });
  if (config.role !== 'handler') throw new Error('unreachable');
  assert.equal(config.brokerContentMode, 'binary');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.brokerUrl, 'http://b/');
});

test('a long bad value is cut in the message', () => {
  const [problem] = problems({ ROLE: 'handler', BROKER_URL: `x${'y'.repeat(500)}` });
  assert.ok((problem ?? '').length < 400, problem);
  assert.match(problem ?? '', /…"\)$/);
});
