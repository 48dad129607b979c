// The vault section of the config: which mode the environment selects, and every problem at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseBootConfig, parseConfig } from '../runtime/config.js';

const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
};

test('no VAULT_* → off; VAULT_SECRETS_DIR → agent; VAULT_ADDR → direct with defaults', () => {
  assert.deepEqual(parseBootConfig({}).vault, { mode: 'off' });
  assert.deepEqual(parseBootConfig({ VAULT_SECRETS_DIR: '/vault/secrets', VAULT_REFRESH_SECONDS: '0.5' }).vault, {
    mode: 'agent',
    secretsDir: '/vault/secrets',
    refreshMs: 500,
  });
  const direct = parseBootConfig({
    VAULT_ADDR: 'https://vault:8200/',
    VAULT_ROLE: 'r',
    VAULT_AUTH_PATH: 'auth/kubernetes-staging',
    VAULT_SECRET_PATHS: ' secret/data/a , kv/team/data/b,',
  }).vault;
  assert.deepEqual(direct, {
    mode: 'direct',
    address: 'https://vault:8200',
    role: 'r',
    authMount: 'kubernetes-staging',
    secretPaths: ['secret/data/a', 'kv/team/data/b'],
    kvVersion: 2,
    caCertFile: undefined,
    namespace: undefined,
    tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    refreshMs: 300_000,
    startupDeadlineMs: 60_000,
    timeoutMs: 10_000,
    skipVerify: false,
  });
  assert.ok(Object.isFrozen(direct));
});

const echo = { ROLE: 'subscriber', FUNCTION: 'echo' };

test('direct mode problems are reported together, with what to do', () => {
  const problems = problemsOf(() =>
    parseBootConfig({ ...echo, VAULT_ADDR: 'vault:8200', VAULT_KV_VERSION: '3', VAULT_SKIP_VERIFY: 'yes' }),
  );
  assert.deepEqual(
    problems.map((p) => p.split(':')[0]),
    ['VAULT_ADDR', 'VAULT_KV_VERSION', 'VAULT_SKIP_VERIFY'],
  );
  const missing = problemsOf(() =>
    parseBootConfig({ ...echo, VAULT_ADDR: 'http://vault:8200', VAULT_SECRET_PATHS: 'secret/app' }),
  );
  assert.deepEqual(missing, [
    'VAULT_ROLE: is required when VAULT_ADDR is set: the Vault Kubernetes-auth role bound to this service account',
    'VAULT_SECRET_PATHS: with VAULT_KV_VERSION 2 each path reads <mount>/data/<path>; add data/ to secret/app',
  ]);
  assert.match(
    problemsOf(() => parseBootConfig({ ...echo, VAULT_ADDR: 'http://v', VAULT_SECRETS_DIR: '/d' }))[0] ?? '',
    /set one: VAULT_SECRETS_DIR for agent-injected files, VAULT_ADDR/,
  );
});

test('a boot problem is reported with the other problems, but not with secret references', () => {
  const problems = problemsOf(() =>
    parseBootConfig({
      ROLE: 'handler',
      PORT: 'x',
      BROKER_URL: 'secret:BROKER_URL',
      BROKER_CONTENT_MODE: 'odd',
      VAULT_SECRETS_DIR: '/d',
    }),
  );
  assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['BROKER_CONTENT_MODE', 'PORT']);
});

test('the vault section is part of the runtime config', () => {
  const config = parseConfig({ ROLE: 'subscriber', FUNCTION: 'echo', VAULT_SECRETS_DIR: '/vault/secrets' });
  assert.equal(config.vault.mode, 'agent');
});

test('secret references: whole value or inside a value, resolved before validation', () => {
  const secrets = new Map([
    ['BROKER_URL', 'http://broker.example/ns/b'],
    ['SINK_PATH', 'ns/sink'],
  ]);
  const store = { get: (name: string) => secrets.get(name) };
  const handler = parseConfig({ ROLE: 'handler', BROKER_URL: 'secret:BROKER_URL' }, store);
  assert.equal(handler.role === 'handler' && handler.brokerUrl, 'http://broker.example/ns/b');
  const forwarder = parseConfig(
    { ROLE: 'sink-forwarder', FUNCTION: 'echo', KAFKA_SINK_URL: 'http://sink.example/${secret:SINK_PATH}' },
    store,
  );
  assert.equal(forwarder.role === 'sink-forwarder' && forwarder.sink.url, 'http://sink.example/ns/sink');
  assert.deepEqual(
    problemsOf(() => parseConfig({ ROLE: 'handler', BROKER_URL: 'secret:NOPE' }, store)),
    ['BROKER_URL: refers to secret NOPE, which the loaded Vault secrets do not contain'],
  );
});
