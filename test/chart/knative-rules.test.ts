// Every values file and chart/ci scenario renders objects a Knative 1.17 cluster (with the features the file's
// `cluster` section declares) accepts and runs as the values promise, by the rules in knative-rules.ts; each rule
// can fail (a mutated render trips it), and each has a bad-values fixture the chart refuses (bad-values.test.ts
// runs them) or, for the immutable-field rules, an upgrade in upgrades.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ROOT } from '../../build/helm-path.mjs';
import { ensureHelm, render, valuesFiles, type K8sObject } from './helm.js';
import { RULES, STOCK_CLUSTER, checkKnativeRules, clusterOf, type Rule } from './knative-rules.js';

ensureHelm();

const BAD = fileURLToPath(new URL('./bad-values/', import.meta.url));
const valuesOf = (file: string): Record<string, unknown> => (parse(readFileSync(join(ROOT, file), 'utf8')) ?? {}) as Record<string, unknown>;
const ids = (problems: ReturnType<typeof checkKnativeRules>): string[] => [...new Set(problems.map((p) => p.rule.id))].sort();

describe('Knative rules on every values file', () => {
  for (const file of valuesFiles()) {
    it(`${file}: a cluster with its declared features accepts every object`, () => {
      const objs = render(4, { files: [file] });
      assert.deepEqual(checkKnativeRules(objs, clusterOf([valuesOf(file)])), []);
    });
  }
  it('the chart defaults alone', () => assert.deepEqual(checkKnativeRules(render(4)), []));
  it('the shipped environments need no cluster feature except local.yaml\'s PVC flags', () => {
    for (const env of ['dev', 'staging', 'prod']) assert.deepEqual(clusterOf([valuesOf(`values/${env}.yaml`)]), STOCK_CLUSTER, env);
  });
});

type Mutation = (objs: K8sObject[]) => void;
const kind = (objs: K8sObject[], k: string, suffix = ''): K8sObject => {
  const o = objs.find((x) => x.kind === k && x.metadata.name.includes(suffix));
  if (!o) throw new Error(`no ${k} ${suffix}`);
  return o;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- mutations poke at arbitrary rendered fields
const tmpl = (o: K8sObject): any => (o.spec as { template: unknown }).template;
const podAnn = (o: K8sObject): Record<string, string> => ((tmpl(o).metadata.annotations ??= {}) as Record<string, string>);
const envOf = (o: K8sObject): Array<{ name: string; value?: string }> => tmpl(o).spec.containers[0].env as Array<{ name: string; value?: string }>;
const setEnv = (o: K8sObject, name: string, value: string): void => {
  const env = envOf(o).filter((e) => e.name !== name);
  tmpl(o).spec.containers[0].env = [...env, { name, value }];
};

/** One way to break each rule, applied to the chart's default render: the checker must name that rule. */
const MUTATIONS: Record<string, Mutation> = {
  [RULES.initialScaleZero.id]: (o) => void (podAnn(kind(o, 'Service', 'handler'))['autoscaling.knative.dev/initial-scale'] = '0'),
  [RULES.metricNeedsHpa.id]: (o) => void (podAnn(kind(o, 'Service', 'echo'))['autoscaling.knative.dev/metric'] = 'memory'),
  [RULES.minMaxScale.id]: (o) => void Object.assign(podAnn(kind(o, 'Service', 'echo')), { 'autoscaling.knative.dev/min-scale': '4', 'autoscaling.knative.dev/max-scale': '2' }),
  [RULES.windows.id]: (o) => void (podAnn(kind(o, 'Service', 'echo'))['autoscaling.knative.dev/window'] = '2h'),
  [RULES.timeout.id]: (o) => void (tmpl(kind(o, 'Service', 'echo')).spec.timeoutSeconds = 601),
  [RULES.containerConcurrency.id]: (o) => void (tmpl(kind(o, 'Service', 'echo')).spec.containerConcurrency = 1001),
  [RULES.reservedPorts.id]: (o) => void (tmpl(kind(o, 'Service', 'echo')).spec.containers[0].ports[0].containerPort = 8012),
  [RULES.pvc.id]: (o) => {
    const s = tmpl(kind(o, 'Service', 'echo')).spec;
    s.volumes = [{ name: 'v', persistentVolumeClaim: { claimName: 'v', readOnly: true } }];
  },
  [RULES.readOnlyMounts.id]: (o) => {
    const s = tmpl(kind(o, 'Service', 'echo')).spec;
    s.volumes = [{ name: 'c', configMap: { name: 'c' } }];
    s.containers[0].volumeMounts = [{ name: 'c', mountPath: '/c' }];
  },
  [RULES.retryAfter.id]: (o) => void ((kind(o, 'Broker').spec as { delivery: Record<string, string> }).delivery.retryAfterMax = 'PT1S'),
  [RULES.pingEvery.id]: (o) => o.push({ apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'p', namespace: 'events' }, spec: { schedule: '@every 1m' } }),
  [RULES.pingJson.id]: (o) => o.push({ apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'p', namespace: 'events' }, spec: { schedule: '* * * * *', contentType: 'application/json', data: '"x"' } }),
  [RULES.filterAndFilters.id]: (o) => void ((kind(o, 'Trigger', 'trades').spec as Record<string, unknown>).filters = [{ exact: { type: 'x' } }]),
  [RULES.knativeNamespaces.id]: (o) => o.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-br-defaults', namespace: 'knative-eventing' } }),
  [RULES.plainReplies.id]: (o) => setEnv(kind(o, 'Service', 'echo'), 'SUBSCRIBER_PLAIN_RESULT', 'json'),
  [RULES.sinkOwnsTopic.id]: (o) => void Object.assign(kind(o, 'KafkaSink').spec as object, { numPartitions: 1, replicationFactor: 1 }),
  [RULES.deliveryOrder.id]: (o) => {
    kind(o, 'Trigger', 'trades').metadata.annotations = { 'kafka.eventing.knative.dev/delivery.order': 'ordered' };
    kind(o, 'Broker').metadata.annotations = { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' };
  },
  [RULES.triggerIdentity.id]: (o) => void ((kind(o, 'Trigger', 'trades').spec as Record<string, unknown>).broker = 'another'),
  [RULES.brokerIdentity.id]: (o) => void (kind(o, 'Broker').metadata.annotations = { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' }),
  [RULES.sinkIdentity.id]: (o) => void ((kind(o, 'KafkaSink').spec as Record<string, unknown>).topic = 'elsewhere'),
  [RULES.publicMetrics.id]: (o) => setEnv(kind(o, 'Service', 'handler'), 'METRICS_ENABLED', 'true'),
  [RULES.dlqFileStore.id]: (o) => {
    setEnv(kind(o, 'Service', 'dlq'), 'DLQ_STORE', 'file');
    setEnv(kind(o, 'Service', 'dlq'), 'DLQ_FILE', '/data/x.jsonl');
  },
  [RULES.outboundDeadline.id]: (o) => setEnv(kind(o, 'Service', 'transformer'), 'OUTBOUND_DEADLINE_MS', '300000'),
  [RULES.memoryLimit.id]: (o) => void (tmpl(kind(o, 'Service', 'echo')).spec.containers[0].resources = {}),
};

/** Rules about names derived from immutable fields are shown by upgrades, not by values a user can get wrong. */
const UPGRADE_RULES = new Set<string>([RULES.triggerIdentity.id, RULES.brokerIdentity.id, RULES.sinkIdentity.id]);

describe('the rules checker', () => {
  const base = render(4);
  for (const rule of Object.values(RULES) as Rule[]) {
    it(`${rule.id} (${rule.source.split(' ')[0] ?? ''}): a render that breaks it is reported`, () => {
      const mutate = MUTATIONS[rule.id];
      assert.ok(mutate, `no mutation for ${rule.id}`);
      const objs = structuredClone(base);
      mutate(objs);
      assert.ok(ids(checkKnativeRules(objs)).includes(rule.id), `${rule.id} not reported: ${JSON.stringify(checkKnativeRules(objs))}`);
    });
  }
  it('every rule cites an upstream file and has a bad-values fixture refused at render (or an upgrade test)', () => {
    const fixtureRules = new Set<string>();
    for (const f of readdirSync(BAD).filter((x) => x.endsWith('.yaml'))) {
      for (const m of readFileSync(join(BAD, f), 'utf8').matchAll(/^# rule: (\S+)$/gm)) fixtureRules.add(m[1] ?? '');
    }
    for (const rule of Object.values(RULES) as Rule[]) {
      assert.match(rule.source, /\.(go|md|yaml)\b|#\d+/, `${rule.id} cites no file`);
      assert.ok(fixtureRules.has(rule.id) || UPGRADE_RULES.has(rule.id), `${rule.id} has no bad-values fixture`);
    }
    for (const id of fixtureRules) assert.ok((Object.values(RULES) as Rule[]).some((r) => r.id === id), `fixture names unknown rule ${id}`);
  });
  it('chart/README.md lists every rule with its source', () => {
    const readme = readFileSync(join(ROOT, 'chart', 'README.md'), 'utf8');
    for (const rule of Object.values(RULES) as Rule[]) assert.ok(readme.includes(`\`${rule.id}\``), `chart/README.md does not list ${rule.id}`);
  });
});
