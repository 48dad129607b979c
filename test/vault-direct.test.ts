// Direct mode against a Vault stand-in on loopback (test/helpers/vault-standin.ts), which speaks Vault's
// documented HTTP API for Kubernetes login, KV v1/v2 reads and token renew/lookup, with Vault's error
// shapes, and fails on demand. The real node-vault client talks to it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { VaultConfig } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { openSecrets, VaultStartupError } from '../runtime/secrets/index.js';
import type { Clock } from '../runtime/clock.js';
import type { SecretsFailureReason } from '../runtime/secrets/store.js';
import { freePort, startBundle } from './helpers/bundle.js';
import { startReceiver } from './helpers/receiver.js';
import { assertNoSecrets, postEvent, runBundleToExit } from './helpers/secrets.js';
import { startVaultStandin, type VaultStandinOptions } from './helpers/vault-standin.js';
import { waitFor } from './helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

const unique = () => randomBytes(8).toString('hex');
const log = createLogger({ level: 'silent', base: {} });

function tokenFile(jwt: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sa-')), 'token');
  writeFileSync(path, `${jwt}\n`);
  return path;
}

async function standin(options: VaultStandinOptions = {}) {
  const jwt = `eyJ.${unique()}.sig`;
  const vault = await startVaultStandin({ jwt, ...options });
  cleanups.push(() => vault.close());
  return { vault, jwt, tokenPath: tokenFile(jwt) };
}

type Direct = Extract<VaultConfig, { mode: 'direct' }>;
/** The environment of a handler bundle that takes BROKER_URL only from Vault in direct mode. */
function handlerFromVault(address: string, tokenPath: string, extra: Record<string, string>): Record<string, string> {
  return {
    ROLE: 'handler',
    BROKER_URL: 'secret:BROKER_URL',
    VAULT_ADDR: address,
    VAULT_ROLE: 'knative-events',
    VAULT_SECRET_PATHS: 'secret/data/app',
    VAULT_TOKEN_PATH: tokenPath,
    ...extra,
  };
}

function direct(address: string, tokenPath: string, overrides: Partial<Direct> = {}): Direct {
  return {
    mode: 'direct',
    address,
    role: 'knative-events',
    authMount: 'kubernetes',
    secretPaths: ['secret/data/app'],
    kvVersion: 2,
    caCertFile: undefined,
    namespace: undefined,
    tokenPath,
    refreshMs: 60_000,
    startupDeadlineMs: 0,
    timeoutMs: 1000,
    skipVerify: false,
    ...overrides,
  };
}

async function open(config: Direct) {
  const source = await openSecrets(config, { log });
  cleanups.push(() => source.close());
  const failures: SecretsFailureReason[] = [];
  source.store.observe({ refreshFailed: (reason) => failures.push(reason) });
  return { source, failures };
}

test('logs in with the service account JWT, reads KV v2 and KV v1 paths, sends the namespace header', async () => {
  const { vault, jwt, tokenPath } = await standin({ mount: 'k8s-prod' });
  vault.putKv2('secret', 'app', { API_KEY: 'k1', PORT_NUMBER: 8443, FLAGS: { a: true } });
  vault.putKv1('kv', 'legacy', { LEGACY: 'old' });
  const { source } = await open(direct(vault.url, tokenPath, { authMount: 'k8s-prod', namespace: 'platform' }));
  assert.equal(source.store.get('API_KEY'), 'k1');
  assert.equal(source.store.get('PORT_NUMBER'), '8443');
  assert.equal(source.store.get('FLAGS'), '{"a":true}');
  const login = vault.calls.find((c) => c.path === '/v1/auth/k8s-prod/login');
  assert.deepEqual(JSON.parse(login?.body ?? '{}'), { role: 'knative-events', jwt });
  const read = vault.calls.find((c) => c.path === '/v1/secret/data/app');
  assert.equal(read?.headers['x-vault-namespace'], 'platform');
  assert.match(String(read?.headers['x-vault-token']), /^hvs\./);

  const v1 = await open(
    direct(vault.url, tokenPath, { authMount: 'k8s-prod', kvVersion: 1, secretPaths: ['kv/legacy'] }),
  );
  assert.equal(v1.source.store.get('LEGACY'), 'old');
});

test('renews its token before the lease ends, and logs in again when renewal is refused', async () => {
  const { vault, tokenPath } = await standin({ leaseSeconds: 0.3 });
  vault.putKv2('secret', 'app', { A: '1' });
  await open(direct(vault.url, tokenPath));
  await waitFor(() => vault.count('/renew-self') >= 2, 5000, { what: 'a renewal' });
  assert.equal(vault.count('/login'), 1);
  vault.fail.renew = true;
  await waitFor(() => vault.count('/login') >= 2, 5000, { what: 'a new login after the refused renewal' });
});

test('an expired token: the next refresh logs in again and reads the rotated value', async () => {
  const { vault, tokenPath } = await standin();
  vault.putKv2('secret', 'app', { A: 'before' });
  const { source } = await open(direct(vault.url, tokenPath, { refreshMs: 100 }));
  vault.expireTokens();
  vault.putKv2('secret', 'app', { A: 'after' });
  await waitFor(() => source.store.get('A') === 'after', 5000, { what: 'the rotated value' });
  assert.equal(vault.count('/login'), 2);
  assert.equal(source.store.status().ok, true);
});

test('Vault sealed later: the last good secrets stay, the failure is reported, recovery clears it', async () => {
  const { vault, tokenPath } = await standin();
  vault.putKv2('secret', 'app', { A: 'good' });
  const { source, failures } = await open(direct(vault.url, tokenPath, { refreshMs: 100 }));
  vault.fail.sealed = true;
  await waitFor(() => failures.includes('sealed'), 5000, { what: 'the sealed failure' });
  assert.equal(source.store.get('A'), 'good');
  assert.equal(source.store.status().ok, false);
  assert.equal(source.store.status().lastFailure?.reason, 'sealed');
  vault.fail.sealed = false;
  vault.putKv2('secret', 'app', { A: 'newer' });
  await waitFor(() => source.store.get('A') === 'newer', 5000, { what: 'recovery' });
  assert.equal(source.store.status().ok, true);
});

test('start-up errors name the cause: login refused, sealed, slow, missing path, missing JWT file', async () => {
  const { vault, tokenPath } = await standin();
  vault.putKv2('secret', 'app', { A: '1' });
  const failsWith = async (config: Direct, pattern: RegExp) => {
    await assert.rejects(openSecrets(config, { log }), (err: unknown) => {
      assert.ok(err instanceof VaultStartupError);
      assert.match(err.message, pattern);
      return true;
    });
  };
  await failsWith(
    direct(vault.url, tokenPath, { role: 'nobody' }),
    /Kubernetes login: Vault answered 400 \(invalid role name "nobody"\); check VAULT_ROLE nobody/,
  );
  vault.fail.login = true;
  await failsWith(direct(vault.url, tokenPath), /Kubernetes login: Vault answered 403 \(permission denied\)/);
  vault.fail.login = false;
  await failsWith(
    direct(vault.url, tokenPath, { secretPaths: ['secret/data/nothing'] }),
    /read secret\/data\/nothing: Vault answered 404/,
  );
  await failsWith(
    direct(vault.url, join(tmpdir(), `no-${unique()}`)),
    /VAULT_TOKEN_PATH .*: cannot read the service account token \(ENOENT\)/,
  );
  vault.fail.sealed = true;
  await failsWith(direct(vault.url, tokenPath), /Vault answered 503 \(Vault is sealed\)/);
  vault.fail.sealed = false;
  vault.fail.delayMs = 500;
  await failsWith(direct(vault.url, tokenPath, { timeoutMs: 100 }), /Vault did not answer in time/);
  vault.fail.delayMs = 0;
  await failsWith(direct('http://127.0.0.1:1', tokenPath), /Vault is unreachable \(ECONNREFUSED\)/);
});

/** A clock the test fires by hand (createDirectSecrets takes it): a backoff is seen, then released, with no real wait. */
function manualClock() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  let advanced = 0;
  const setTimeout = (fn: () => void, ms: number) => (pending.set(++next, { fn, ms }), next);
  const clock: Clock = {
    setTimeout,
    clearTimeout: (handle) => void pending.delete(handle as number),
    now: () => Date.now() + advanced,
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    random: () => 0.5,
  };
  return {
    clock,
    /** The first pending timer of at most `maxMs` (a backoff, not the 60 s refresh). */
    find: (maxMs: number) => [...pending].find(([, t]) => t.ms <= maxMs),
    /** Moves the clock past the timer and runs it. */
    fire([handle, t]: [number, { fn: () => void; ms: number }]) {
      pending.delete(handle);
      advanced += t.ms;
      t.fn();
    },
  };
}

test('start-up retries with backoff until Vault answers within the deadline', async () => {
  const { vault, tokenPath } = await standin();
  vault.putKv2('secret', 'app', { A: '1' });
  vault.fail.delayMs = 400;
  const clock = manualClock();
  let settled = false;
  const opening = openSecrets(direct(vault.url, tokenPath, { timeoutMs: 150, startupDeadlineMs: 5000 }), {
    log,
    clock: clock.clock,
  }).finally(() => (settled = true));
  // The first attempt times out (Vault answers after 400 ms, the client waits 150): start-up backs off 200 ms.
  const backoff = await waitFor(() => clock.find(5000), 5000, { what: 'the first backoff' });
  assert.equal(backoff[1].ms, 200);
  assert.equal(settled, false, 'start-up waits for the backoff');
  vault.fail.delayMs = 0;
  clock.fire(backoff);
  const source = await opening;
  cleanups.push(() => source.close());
  assert.equal(source.store.get('A'), '1');
});

test('TLS: verified against VAULT_CACERT; an unknown CA is refused unless VAULT_SKIP_VERIFY', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'vault-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
  } catch {
    assert.fail('openssl is needed to make the test certificate');
  }
  const { readFileSync } = await import('node:fs');
  const tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  const { vault, tokenPath } = await standin({ tls });
  vault.putKv2('secret', 'app', { A: 'over-tls' });
  await assert.rejects(
    openSecrets(direct(vault.url, tokenPath), { log }),
    /TLS verification failed \(DEPTH_ZERO_SELF_SIGNED_CERT\); set VAULT_CACERT/,
  );
  const verified = await open(direct(vault.url, tokenPath, { caCertFile: join(dir, 'cert.pem') }));
  assert.equal(verified.source.store.get('A'), 'over-tls');
  const skipped = await open(direct(vault.url, tokenPath, { skipVerify: true }));
  assert.equal(skipped.source.store.get('A'), 'over-tls');
  t.diagnostic('self-signed certificate made with openssl');
});

test('the handler gets BROKER_URL only from Vault, follows its rotation, and prints no secret', async () => {
  const { vault, jwt, tokenPath } = await standin();
  const first = await startReceiver();
  const second = await startReceiver();
  cleanups.push(
    () => first.close(),
    () => second.close(),
  );
  const token = unique();
  const apiKey = `api-${unique()}`;
  vault.putKv2('secret', 'knative-events/app', { BROKER_URL: `${first.url}ns/broker-${token}`, API_KEY: apiKey });
  const env = {
    ROLE: 'handler',
    BROKER_URL: 'secret:BROKER_URL',
    LOG_LEVEL: 'debug',
    VAULT_ADDR: vault.url,
    VAULT_ROLE: 'knative-events',
    VAULT_AUTH_PATH: 'auth/kubernetes',
    VAULT_SECRET_PATHS: 'secret/data/knative-events/app',
    VAULT_TOKEN_PATH: tokenPath,
    VAULT_REFRESH_SECONDS: '0.2',
    // node-vault reads these itself: they must change nothing (verification stays on, no token from the env).
    VAULT_SKIP_VERIFY: 'false',
    DEBUG: 'node-vault',
  };
  const bundle = await startBundle(env);
  cleanups.push(() => void bundle.child.kill('SIGKILL'));
  await waitFor(async () => ((await fetch(`${bundle.url}readyz`)).status === 200 ? true : undefined), 5000, {
    what: 'readiness',
  });
  assert.equal((await postEvent(bundle.url, 'e1')).status, 202);
  assert.equal(first.accepted()[0]?.path, `/ns/broker-${token}`);

  vault.putKv2('secret', 'knative-events/app', {
    BROKER_URL: `${second.url}ns/broker-${token}-rotated`,
    API_KEY: apiKey,
  });
  await waitFor(
    async () => {
      assert.equal((await postEvent(bundle.url, unique())).status, 202);
      return second.accepted().length > 0 ? true : undefined;
    },
    5000,
    { what: 'events to reach the rotated broker URL', errors: 'throw' },
  );
  assert.equal(second.accepted()[0]?.path, `/ns/broker-${token}-rotated`);

  vault.fail.sealed = true;
  await waitFor(() => (bundle.stdout().includes('"reason":"sealed"') ? true : undefined), 5000, {
    what: 'the outage to be logged',
  });
  assert.equal((await postEvent(bundle.url, unique())).status, 202, 'keeps serving with the last good secrets');

  const metrics = await (await fetch(`${bundle.url}metrics`)).text();
  // Vault's health in /metrics: reads timed by result (ok before the outage, sealed during it), and the gauge.
  assert.match(metrics, /knative_events_vault_request_duration_seconds_count\{operation="read",result="ok"\} [1-9]/);
  assert.match(
    metrics,
    /knative_events_vault_request_duration_seconds_count\{operation="read",result="sealed"\} [1-9]/,
  );
  assert.match(metrics, /knative_events_secrets_last_refresh_ok 0/);
  assert.match(metrics, /knative_events_secrets_refresh_failures_total\{reason="sealed"\} [1-9]/);
  bundle.child.kill('SIGTERM');
  assert.equal(await bundle.exited, 0);
  assert.match(bundle.stdout(), /secrets loaded from Vault/);
  assertNoSecrets({ stdout: bundle.stdout(), stderr: bundle.stderr(), metrics }, [
    token,
    apiKey,
    jwt,
    ...vault.issuedTokens(),
  ]);
});

test('while Vault is unavailable at start-up /readyz answers 503, then 200 once secrets are loaded', async () => {
  const { vault, tokenPath } = await standin();
  vault.putKv2('secret', 'app', { BROKER_URL: 'http://127.0.0.1:9/ns/b' });
  vault.fail.sealed = true;
  // PROBE_PORT too: while Vault is awaited the probes' own listener answers for the starting app, then the real one
  const probePort = await freePort();
  const bundle = await startBundle(
    handlerFromVault(vault.url, tokenPath, { VAULT_STARTUP_DEADLINE_SECONDS: '20', PROBE_PORT: String(probePort) }),
  );
  cleanups.push(() => void bundle.child.kill('SIGKILL'));
  for (const url of [bundle.url, `http://127.0.0.1:${probePort}/`]) {
    const starting = await fetch(`${url}readyz`);
    assert.equal(starting.status, 503);
    assert.deepEqual(await starting.json(), { success: false, error: { type: 'shutting_down', message: 'starting' } });
  }
  assert.equal((await fetch(`http://127.0.0.1:${probePort}/healthz`)).status, 200);
  assert.equal((await postEvent(bundle.url, 'early')).status, 503);
  vault.fail.sealed = false;
  await waitFor(async () => ((await fetch(`${bundle.url}readyz`)).status === 200 ? true : undefined), 10_000, {
    what: 'readiness',
  });
  assert.deepEqual(await (await fetch(`http://127.0.0.1:${probePort}/readyz`)).json(), { status: 'ready' });
  bundle.child.kill('SIGTERM');
  assert.equal(await bundle.exited, 0);
});

test('Vault unavailable past the start-up deadline: the process exits with a clear error', async () => {
  const { vault, tokenPath } = await standin();
  vault.fail.sealed = true;
  const run = await runBundleToExit(handlerFromVault(vault.url, tokenPath, { VAULT_STARTUP_DEADLINE_SECONDS: '1' }));
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /could not start: could not load secrets from Vault at http:\/\/127\.0\.0\.1:\d+ within VAULT_STARTUP_DEADLINE_SECONDS \(1s, \d+ attempts\): Kubernetes login: Vault answered 503 \(Vault is sealed\)/,
  );
  assert.match(run.stdout, /Vault not available yet: retrying/);
  assert.ok(run.readiness.includes(503), `readiness seen: ${run.readiness.join(',')}`);
  assert.ok(!run.readiness.includes(200));
});
