// Agent mode with real files that change while the runtime runs: the Vault agent injector's output is a
// directory of KEY="value" files, re-rendered and renamed into place on rotation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from '../runtime/logger.js';
import { openSecrets } from '../runtime/secrets/index.js';
import type { SecretsFailureReason } from '../runtime/secrets/store.js';
import { startBundle } from './helpers/bundle.js';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';
import { assertNoSecrets, postEvent, runBundleToExit } from './helpers/secrets.js';
import { waitFor } from './helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

function secretsDir(): string {
  return mkdtempSync(join(tmpdir(), 'vault-secrets-'));
}

/** As the agent does: render elsewhere, then rename into place (one atomic swap of the file). */
function renderInto(dir: string, name: string, text: string): void {
  const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temp, text);
  renameSync(temp, join(dir, name));
}

const unique = () => randomBytes(8).toString('hex');
const silentLog = () => createLogger({ level: 'silent', base: {} });

test('context.secrets sees a re-rendered file at once, without a restart; a malformed re-render keeps the last good values', async () => {
  const dir = secretsDir();
  renderInto(dir, 'app', 'export API_KEY="first-key"\n');
  renderInto(dir, 'other', 'OTHER="o"\n');
  const failures: SecretsFailureReason[] = [];
  const source = await openSecrets({ mode: 'agent', secretsDir: dir, refreshMs: 60_000 }, { log: silentLog() });
  cleanups.push(() => source.close());
  source.store.observe({ refreshFailed: (reason) => failures.push(reason) });
  const runtime = await startRuntime(
    { ROLE: 'subscriber', FUNCTION: 'echo' },
    {
      secrets: source.store,
      loadFunction: async () => ({
        default: (_event, context) => ({ key: context.secrets.get('API_KEY'), other: context.secrets.get('OTHER') }),
      }),
    },
  );
  cleanups.push(() => runtime.stop().then(() => undefined));
  const keyNow = async () => (await (await postEvent(runtime.url, unique())).json()) as { key: string; other: string };

  assert.deepEqual(await keyNow(), { key: 'first-key', other: 'o' });
  // The refresh interval is a minute: only the directory watch can make this pass in time.
  renderInto(dir, 'app', 'export API_KEY="second-key"\n');
  await waitFor(async () => ((await keyNow()).key === 'second-key' ? true : undefined), 5000, {
    what: 'the rotated key',
  });

  renderInto(dir, 'app', 'export API_KEY="third-key\n');
  await waitFor(() => (failures.includes('malformed_file') ? true : undefined), 5000, {
    what: 'the malformed file to be reported',
  });
  assert.deepEqual(await keyNow(), { key: 'second-key', other: 'o' });
  assert.equal(source.store.status().ok, false);

  renderInto(dir, 'app', 'export API_KEY="fourth-key"\n');
  await waitFor(async () => ((await keyNow()).key === 'fourth-key' ? true : undefined), 5000, {
    what: 'the fixed file',
  });
  assert.equal(source.store.status().ok, true);
});

test('the periodic re-read picks up a change even without a watch event', async () => {
  const dir = secretsDir();
  renderInto(dir, 'app', 'A="1"\n');
  const source = await openSecrets({ mode: 'agent', secretsDir: dir, refreshMs: 100 }, { log: silentLog() });
  cleanups.push(() => source.close());
  // Written in place (no rename), which some volumes do not report: the interval still sees it.
  writeFileSync(join(dir, 'app'), 'A="2"\n');
  await waitFor(() => (source.store.get('A') === '2' ? true : undefined), 3000, { what: 'the periodic re-read' });
});

test('the handler gets BROKER_URL only from an agent file, follows its rotation, and prints no secret', async () => {
  const first = await startReceiver();
  const second = await startReceiver();
  cleanups.push(
    () => first.close(),
    () => second.close(),
  );
  const token = unique();
  const apiKey = `api-${unique()}`;
  const firstUrl = `${first.url}ns/broker-${token}`;
  const secondUrl = `${second.url}ns/broker-${token}-rotated`;
  const dir = secretsDir();
  renderInto(dir, 'app', `export BROKER_URL="${firstUrl}"\nexport API_KEY="${apiKey}"\n`);

  const bundle = await startBundle({
    ROLE: 'handler',
    BROKER_URL: 'secret:BROKER_URL',
    VAULT_SECRETS_DIR: dir,
    VAULT_REFRESH_SECONDS: '60',
    LOG_LEVEL: 'debug',
  });
  cleanups.push(() => void bundle.child.kill('SIGKILL'));
  assert.equal((await postEvent(bundle.url, 'e1')).status, 202);
  assert.equal(first.accepted().at(-1)?.path, `/ns/broker-${token}`);

  renderInto(dir, 'app', `export BROKER_URL="${secondUrl}"\nexport API_KEY="${apiKey}"\n`);
  await waitFor(
    async () => {
      assert.equal((await postEvent(bundle.url, unique())).status, 202);
      return second.accepted().length > 0 ? true : undefined;
    },
    5000,
    { what: 'events to reach the rotated broker URL' },
  );
  assert.equal(second.accepted()[0]?.path, `/ns/broker-${token}-rotated`);

  // A malformed re-render keeps the last good secrets; the metrics say so, by reason, and count the rotation.
  renderInto(dir, 'app', 'BROKER_URL="unterminated\n');
  const metrics = await waitFor(
    async () => {
      const text = await (await fetch(`${bundle.url}metrics`)).text();
      return /knative_events_secrets_last_refresh_ok 0/.test(text) ? text : undefined;
    },
    5000,
    { what: 'the failed refresh to show in /metrics' },
  );
  assert.match(metrics, /knative_events_secrets_refresh_failures_total\{reason="malformed_file"\} [1-9]/);
  assert.match(metrics, /knative_events_secrets_changes_total [1-9]/);
  assert.equal((await postEvent(bundle.url, unique())).status, 202, 'still serving with the last good secrets');
  bundle.child.kill('SIGTERM');
  assert.equal(await bundle.exited, 0);
  assert.match(bundle.stdout(), /secrets loaded from Vault agent files/);
  assert.match(bundle.stdout(), /configuration rebuilt from rotated secrets/);
  assertNoSecrets({ stdout: bundle.stdout(), stderr: bundle.stderr(), metrics }, [token, apiKey]);
});

test('a malformed file stops the start with its file and line, and without its content', async () => {
  const dir = secretsDir();
  const secret = `s-${unique()}`;
  renderInto(dir, 'app', `BROKER_URL="http://broker/ns/b"\nAPI_KEY="${secret}\n`);
  const run = await runBundleToExit({ ROLE: 'handler', BROKER_URL: 'secret:BROKER_URL', VAULT_SECRETS_DIR: dir });
  assert.equal(run.code, 1);
  assert.match(run.stderr, new RegExp(`${join(dir, 'app')}:2: unterminated double-quoted value`));
  assertNoSecrets({ stdout: run.stdout, stderr: run.stderr }, [secret]);
});

test('a reference to a secret the files lack stops the start, naming variable and secret only', async () => {
  const dir = secretsDir();
  renderInto(dir, 'app', 'SOMETHING_ELSE="x"\n');
  const run = await runBundleToExit({ ROLE: 'handler', BROKER_URL: 'secret:BROKER_URL', VAULT_SECRETS_DIR: dir });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /BROKER_URL: refers to secret BROKER_URL, which the loaded Vault secrets do not contain/);
});

test('a missing VAULT_SECRETS_DIR stops the start', async () => {
  const run = await runBundleToExit({
    ROLE: 'handler',
    BROKER_URL: 'secret:BROKER_URL',
    VAULT_SECRETS_DIR: join(tmpdir(), `missing-${unique()}`),
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /VAULT_SECRETS_DIR .*missing-.*: cannot list the directory \(ENOENT\)/);
});

test('a secret value that makes the config invalid is reported without the value', async () => {
  const dir = secretsDir();
  const secret = `not-a-url-${unique()}`;
  renderInto(dir, 'app', `BROKER_URL="${secret}"\n`);
  const run = await runBundleToExit({ ROLE: 'handler', BROKER_URL: 'secret:BROKER_URL', VAULT_SECRETS_DIR: dir });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /BROKER_URL: expected the Knative Broker ingress URL.*\(got "secret:BROKER_URL"\)/);
  assertNoSecrets({ stdout: run.stdout, stderr: run.stderr }, [secret]);
});

test('without VAULT_SECRETS_DIR or VAULT_ADDR a secret reference is a config error, not a literal value', async () => {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    base: {},
    destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }),
  });
  const source = await openSecrets({ mode: 'off' }, { log, exists: () => true });
  assert.match(lines.join(''), /VAULT_SECRETS_DIR is unset/);
  const { parseConfig } = await import('../runtime/config.js');
  assert.throws(
    () => parseConfig({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: 'secret:DLQ_ADMIN_TOKEN' }, source.store),
    /DLQ_ADMIN_TOKEN: refers to secret DLQ_ADMIN_TOKEN, which the loaded Vault secrets do not contain/,
  );
  assert.throws(() => parseConfig({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: 'secret:DLQ_ADMIN_TOKEN' }), /but Vault is off/);
});

test('a secrets file over the size cap stops the start with its name and the limit, not its content', async () => {
  const dir = secretsDir();
  const secret = `s-${unique()}`;
  renderInto(dir, 'app', `BROKER_URL="http://broker/ns/b"\nAPI_KEY="${secret}${'x'.repeat(1024 * 1024)}"\n`);
  const run = await runBundleToExit({ ROLE: 'handler', BROKER_URL: 'secret:BROKER_URL', VAULT_SECRETS_DIR: dir });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(
      `${join(dir, 'app')}: the file is 10\\d{5} bytes, over the 1048576-byte limit for a Vault agent secrets file`,
    ),
  );
  assertNoSecrets({ stdout: run.stdout, stderr: run.stderr }, [secret]);
});
