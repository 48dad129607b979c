// From rendered manifests to what runs locally: cluster addresses → loopback, the exact env, volumes,
// secrets; and the one-line errors for a chart that does not render or a port in use.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHelm } from '../test/chart/helm.js';
import { pinnedHelmPath, ROOT } from '../build/helm-path.mjs';
import { RunnerError } from './errors.js';
import { readManifests } from './manifests.js';
import { buildPlan, rewriteUrl } from './plan.js';
import { assignPorts } from './ports.js';
import { renderChart, type SpawnSync } from './render.js';

const spawnText: SpawnSync = (cmd, args, o) => {
  const r = spawnSync(cmd, args, { ...o, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
};
const temp = mkdtempSync(join(tmpdir(), 'plan-'));
after(() => rmSync(temp, { recursive: true, force: true }));

function render(valuesFiles: string[]) {
  ensureHelm();
  return renderChart({
    helm: pinnedHelmPath(4),
    chartDir: join(ROOT, 'chart'),
    valuesFiles,
    release: 'local',
    namespace: 'default',
    cwd: ROOT,
    spawn: spawnText,
    env: process.env,
  });
}

const addresses = {
  brokerBase: 'http://127.0.0.1:1',
  sinkBase: 'http://127.0.0.1:2',
  serviceUrl: (n: string, ns: string) => (n === 'svc' && ns === 'ns' ? 'http://127.0.0.1:3/' : undefined),
};

describe('rewriteUrl', () => {
  it('maps broker, sink and service cluster addresses to loopback, keeping the path', () => {
    assert.equal(
      rewriteUrl('http://kafka-broker-ingress.knative-eventing.svc.cluster.local/ns/b', addresses),
      'http://127.0.0.1:1/ns/b',
    );
    assert.equal(
      rewriteUrl('http://broker-ingress.knative-eventing.svc.cluster.local/ns/b', addresses),
      'http://127.0.0.1:1/ns/b',
    );
    assert.equal(
      rewriteUrl('http://kafka-sink-ingress.knative-eventing.svc.cluster.local/ns/s', addresses),
      'http://127.0.0.1:2/ns/s',
    );
    assert.equal(rewriteUrl('http://svc.ns.svc.cluster.local/hook?x=1', addresses), 'http://127.0.0.1:3/hook?x=1');
    assert.equal(rewriteUrl('https://example.com/x', addresses), 'https://example.com/x');
    assert.equal(rewriteUrl('/data/file.jsonl', addresses), '/data/file.jsonl');
  });
});

describe('values/local.yaml → plan', async () => {
  const rendered = render([join(ROOT, 'values', 'local.yaml')]);
  const manifests = readManifests(rendered.manifests);
  const ports = await assignPorts(manifests.services, 0, '127.0.0.1');
  const plan = buildPlan(manifests, {
    host: '127.0.0.1',
    brokerPort: ports.broker,
    sinkPort: ports.sink,
    servicePorts: ports.services,
    outDir: '/out',
    secrets: {},
    secretsFile: undefined,
    logLevel: undefined,
    agentSecretsDir: undefined,
  });
  const svc = (short: string) => plan.services.find((s) => s.short === short);

  it('gives each service the manifest env with loopback addresses and what Knative injects', () => {
    const handler = svc('handler');
    // the chart names the broker <name>-<hash of its immutable fields>
    assert.match(
      handler?.env.BROKER_URL ?? '',
      new RegExp(`^http://127\\.0\\.0\\.1:${ports.broker}/default/local-[0-9a-f]{8}$`),
    );
    assert.equal(handler?.env.ROLE, 'handler');
    assert.equal(handler?.env.PORT, String(handler?.port));
    assert.equal(handler?.env.K_SERVICE, 'local-knative-events-handler');
    assert.equal(handler?.env.K_REVISION, 'local-knative-events-handler-00001');
    // METRICS_ENABLED=false: the chart serves no /metrics on a public service without metrics.token
    assert.deepEqual(Object.keys(handler?.env ?? {}).sort(), [
      'BROKER_URL',
      'HANDLER_AUTH',
      'K_CONFIGURATION',
      'K_REVISION',
      'K_SERVICE',
      'LOG_LEVEL',
      'MEMORY_BUDGET_BYTES',
      'METRICS_ENABLED',
      'METRICS_PATH',
      'OUTBOUND_DEADLINE_MS',
      'PORT',
      'ROLE',
    ]);
    assert.match(
      svc('transformer')?.env.KAFKA_SINK_URL ?? '',
      new RegExp(`^http://127\\.0\\.0\\.1:${ports.sink}/default/local-knative-events-trades-out-[0-9a-f]{8}$`),
    );
  });
  it('maps the dlq volume to a local folder', () => {
    assert.equal(svc('dlq')?.env.DLQ_FILE, '/out/volumes/dlq/dlq-data/dead-letters.jsonl');
  });
  it('resolves trigger subscribers, delivery and the dead-letter sink', () => {
    const trades = plan.triggers.find((t) => /trigger-trades-[0-9a-f]{8}$/.test(t.name));
    assert.equal(trades?.subscriberUrl, svc('transformer')?.url);
    assert.deepEqual(trades?.delivery, {
      retry: 2,
      backoffPolicy: 'linear',
      backoffDelayMs: 200,
      timeoutMs: 300_000,
      deadLetterUrl: svc('dlq')?.url,
      format: 'binary',
    });
    assert.equal(plan.pings[0]?.sinkUrl, svc('handler')?.url);
    assert.equal(plan.sinks[0]?.file, '/out/kafka/trades-normalized.jsonl');
  });
  it('takes Secret references from the local secrets file, and says where to add a missing one', () => {
    const withSecret = manifests.services.map((s) =>
      s.short === 'dlq'
        ? {
            ...s,
            env: [
              ...s.env,
              {
                name: 'DLQ_ADMIN_TOKEN',
                source: { secretKeyRef: { name: 'dlq-admin', key: 'token', optional: false } },
              },
            ],
          }
        : s,
    );
    const inputs = {
      host: '127.0.0.1',
      brokerPort: 1,
      sinkPort: 2,
      servicePorts: ports.services,
      outDir: '/out',
      secretsFile: '/home/me/secrets.yaml',
      logLevel: 'warn',
      agentSecretsDir: '/out/secrets',
    };
    const p = buildPlan(
      { ...manifests, services: withSecret },
      { ...inputs, secrets: { 'dlq-admin': { token: 'abcdefghijklmnopq' } } },
    );
    const dlq = p.services.find((s) => s.short === 'dlq');
    assert.equal(dlq?.env.DLQ_ADMIN_TOKEN, 'abcdefghijklmnopq');
    assert.equal(dlq?.env.LOG_LEVEL, 'warn');
    assert.equal(dlq?.env.VAULT_SECRETS_DIR, '/out/secrets');
    assert.throws(
      () => buildPlan({ ...manifests, services: withSecret }, { ...inputs, secrets: {} }),
      (err: Error) =>
        err instanceof RunnerError &&
        /needs Secret dlq-admin key token: add it to the local secrets file \/home\/me\/secrets\.yaml/.test(
          err.message,
        ),
    );
  });
});

describe('one-line errors', () => {
  it('a values file the chart rejects', () => {
    const bad = join(temp, 'bad.yaml');
    writeFileSync(bad, 'services:\n  handler:\n    role: nonsense\n');
    assert.throws(
      () => render([bad]),
      (err: Error) =>
        err instanceof RunnerError &&
        /^the chart does not render with .*bad\.yaml: .+ — fix the values file$/.test(err.message) &&
        !err.message.includes('\n'),
    );
  });
  it('a values file that does not exist', () => {
    assert.throws(
      () => render([join(temp, 'nope.yaml')]),
      /values file .*nope\.yaml cannot be read \(ENOENT\): pass an existing file/,
    );
  });
  it('a local: section is read and not passed to helm', () => {
    const file = join(temp, 'with-local.yaml');
    writeFileSync(file, 'local:\n  outDir: /tmp/x\n  port: 9000\n');
    const r = render([join(ROOT, 'values', 'local.yaml'), file]);
    assert.deepEqual(r.local, { outDir: '/tmp/x', port: 9000 });
  });
  it('a port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const manifests = readManifests(render([join(ROOT, 'values', 'local.yaml')]).manifests);
      await assert.rejects(
        assignPorts(manifests.services, port, '127.0.0.1'),
        new RegExp(
          `^RunnerError: port ${port} \\(service handler\\) is already in use: stop what listens there, or start on other ports with --port`,
        ),
      );
    } finally {
      blocker.close();
    }
  });
});
