// The checkers themselves: fed the seed's mistakes (fixtures/seed-mistakes.yaml), they must report each one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseManifests, type K8sObject } from './helm.js';
import { checkIntegrity } from './integrity.js';
import { validateAll, validateObject } from './schemas.js';

const seed = parseManifests(readFileSync(fileURLToPath(new URL('./fixtures/seed-mistakes.yaml', import.meta.url)), 'utf8'));
const problems = checkIntegrity(seed, { containerName: 'app' });

function has(re: RegExp): void {
  assert.ok(problems.some((p) => re.test(p)), `no problem matches ${re}:\n${problems.join('\n')}`);
}

describe('integrity checker on the seed mistakes', () => {
  it('finds the broker config map referenced under another name', () => has(/Broker default spec\.config: ConfigMap events\/kafka-broker-config is not rendered/));
  it('finds the dead-letter sink that is never defined', () => has(/Broker default spec\.delivery\.deadLetterSink\.ref: Service events\/knative-kafka-dlq is not rendered/));
  it('finds the trigger subscriber that is never defined', () => has(/Trigger trades spec\.subscriber\.ref: Service events\/transformation-service-1 is not rendered/));
  it('finds the KafkaSink auth under a dotted key', () => has(/KafkaSink trades-out: dotted key spec\["auth\.secret\.ref\.name"\]/));
  it('finds the Vault secret and template with different names', () => {
    has(/Vault secret "my-secret\.env" has no agent-inject-template-my-secret\.env/);
    has(/Vault template "my-secrets\.env" has no agent-inject-secret-my-secrets\.env/);
  });
  it('finds tls-skip-verify on', () => has(/tls-skip-verify is "true"/));
  it('finds the container named differently', () => has(/Service subscriber: container "event-handler" should be named "app"/));
  it('finds spec.template.metadata.name', () => has(/Service subscriber: spec\.template\.metadata\.name is set/));
  it('finds a subscriber without FUNCTION and without cluster-local visibility', () => {
    has(/Service subscriber: role subscriber without FUNCTION/);
    has(/Service subscriber: role subscriber is not cluster-local/);
  });
  it('finds a KAFKA_SINK_URL to a sink that is not rendered', () => has(/KAFKA_SINK_URL points to KafkaSink events\/trades-outt, which is not rendered/));
  it('finds a BROKER_URL whose ingress does not match the broker class', () => has(/BROKER_URL uses broker-ingress but the broker class is Kafka/));
  it('reports nothing else', () => assert.equal(problems.length, 13, problems.join('\n')));
});

describe('integrity checker on small cases', () => {
  const base = (): K8sObject[] => parseManifests(readFileSync(fileURLToPath(new URL('./fixtures/seed-mistakes.yaml', import.meta.url)), 'utf8'));
  it('accepts an external broker declared by the caller', () => {
    const trig = base().filter((o) => o.kind === 'Trigger');
    const p = checkIntegrity(trig, { external: [{ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default', namespace: 'events' }] });
    assert.ok(!p.some((x) => x.includes('spec.broker')), p.join('\n'));
  });
  it('rejects a trigger whose broker is missing', () => {
    const trig = base().filter((o) => o.kind === 'Trigger');
    assert.ok(checkIntegrity(trig).some((x) => /spec\.broker: Broker events\/default is not rendered/.test(x)));
  });
  it('rejects a relative uri without a ref and duplicates', () => {
    const t = base().find((o) => o.kind === 'Trigger');
    assert.ok(t?.spec);
    t.spec.subscriber = { uri: '/relative' };
    const p = checkIntegrity([t, t]);
    assert.ok(p.some((x) => x.includes('is not an absolute URL')));
    assert.ok(p.some((x) => x.startsWith('duplicate Trigger')));
  });
  it('rejects a SINK_CONTENT_MODE that disagrees with the sink', () => {
    const objs = parseManifests(`
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata: {name: out, namespace: events}
spec: {topic: t, bootstrapServers: [k:9092], contentMode: structured}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fwd, namespace: events, labels: {networking.knative.dev/visibility: cluster-local}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: x
          env:
            - {name: ROLE, value: sink-forwarder}
            - {name: FUNCTION, value: echo}
            - {name: KAFKA_SINK_URL, value: "http://kafka-sink-ingress.knative-eventing.svc.cluster.local/events/out"}
            - {name: SINK_CONTENT_MODE, value: binary}
`);
    assert.deepEqual(checkIntegrity(objs, { containerName: 'app' }), [
      'Service fwd: SINK_CONTENT_MODE binary but the KafkaSink\'s contentMode is structured',
    ]);
  });
});

describe('schema validation on the seed mistakes', () => {
  it('rejects the dotted KafkaSink auth key as an unknown field', () => {
    const sink = seed.find((o) => o.kind === 'KafkaSink');
    assert.ok(sink);
    assert.ok(validateObject(sink).some((e) => e.includes("additional properties 'auth.secret.ref.name'")), validateObject(sink).join('\n'));
  });
  it('accepts the well-formed objects', () => {
    const ok = seed.filter((o) => o.kind === 'Trigger' || o.kind === 'Broker' || o.kind === 'ConfigMap');
    assert.deepEqual(validateAll(ok), []);
  });
  it('rejects an unknown kind and a typo in a Knative Service', () => {
    assert.match(validateObject({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })[0] ?? '', /no schema/);
    const svc = seed.find((o) => o.metadata.name === 'handler');
    assert.ok(svc?.spec);
    const bad = structuredClone(svc);
    (bad.spec as { template: { spec: Record<string, unknown> } }).template.spec.containerConcurency = 3;
    assert.ok(validateObject(bad).some((e) => e.includes('containerConcurency')));
  });
});
