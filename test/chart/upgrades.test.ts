// `helm upgrade` never patches a field Knative's webhooks hold immutable: for each upgrade below, "before" and
// "after" are rendered, and no object Helm would patch (same kind, namespace and name) changes its immutable part
// (knative-rules.ts immutablePart: Trigger spec.broker; Broker spec but delivery, and its class; KafkaSink topic,
// numPartitions, replicationFactor). Each case also asserts that the upgrade does change what it is about, so a
// render that silently ignores the new value cannot pass.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../../build/helm-path.mjs';
import { byKind, ensureHelm, render, type K8sObject } from './helm.js';
import { checkKnativeRules, clusterOf, immutableChanges, immutablePart } from './knative-rules.js';

ensureHelm();

interface Upgrade {
  name: string;
  before: { files?: string[]; set?: string[] };
  after: { files?: string[]; set?: string[] };
  /** The kinds the upgrade replaces: new objects (new names), none patched. */
  changes: string[];
  /** Of those, the kinds whose Knative-immutable fields differ (a rename, or a new topic size, changes only the name). */
  differs: string[];
}

const PROD = ['values/prod.yaml'];
const UPGRADES: Upgrade[] = [
  { name: 'rename the broker', before: { files: PROD }, after: { files: PROD, set: ['broker.name=trading'] }, changes: ['Broker', 'Trigger'], differs: ['Trigger'] },
  { name: 'switch the broker class Kafka → MTChannelBasedBroker', before: { files: PROD }, after: { files: PROD, set: ['broker.class=MTChannelBasedBroker'] }, changes: ['Broker', 'Trigger'], differs: ['Broker', 'Trigger'] },
  { name: 'resize the broker topic (partitions)', before: { files: PROD }, after: { files: PROD, set: ['broker.config.topicPartitions=24'] }, changes: ['Broker', 'Trigger'], differs: ['Trigger'] },
  { name: 'use an existing broker config', before: { files: PROD }, after: { files: PROD, set: ['broker.config.create=false', 'broker.config.name=kafka-broker-config', 'broker.config.namespace=knative-eventing'] }, changes: ['Broker', 'Trigger'], differs: ['Broker', 'Trigger'] },
  { name: 'move a sink to a new topic', before: { files: PROD }, after: { files: PROD, set: ['kafkaSinks.trades-out.topic=trades-normalized-v2'] }, changes: ['KafkaSink'], differs: ['KafkaSink'] },
  { name: 'let a sink own its topic', before: { files: PROD }, after: { files: PROD, set: ['kafkaSinks.trades-out.ownTopic=true', 'kafkaSinks.trades-out.numPartitions=12', 'kafkaSinks.trades-out.replicationFactor=3'] }, changes: ['KafkaSink'], differs: ['KafkaSink'] },
  { name: 'resize an owned topic', before: { files: ['chart/ci/full-values.yaml'] }, after: { files: ['chart/ci/full-values.yaml'], set: ['kafkaSinks.dead-letters.numPartitions=6'] }, changes: ['KafkaSink'], differs: ['KafkaSink'] },
  { name: 'change only delivery (mutable: patched in place)', before: { files: PROD }, after: { files: PROD, set: ['broker.delivery.retry=7', 'triggers.trades.delivery.retry=0'] }, changes: [], differs: [] },
];

const names = (objs: K8sObject[], kind: string): string[] => byKind(objs, kind).map((o) => o.metadata.name).sort();

describe('upgrades never patch an immutable field', () => {
  for (const u of UPGRADES) {
    it(u.name, () => {
      const before = render(4, u.before);
      const after = render(4, u.after);
      assert.deepEqual(immutableChanges(before, after), []);
      for (const kind of ['Broker', 'Trigger', 'KafkaSink']) {
        const created = names(after, kind).filter((n) => !names(before, kind).includes(n));
        const deleted = names(before, kind).filter((n) => !names(after, kind).includes(n));
        if (u.changes.includes(kind)) {
          // a new object (Helm creates it) replaces the old one (Helm deletes it), so nothing is patched
          assert.ok(created.length > 0 && deleted.length === created.length, `${kind}: expected replaced objects, created ${created.join(', ') || 'none'}, deleted ${deleted.join(', ') || 'none'}`);
          const newParts = byKind(after, kind).filter((o) => created.includes(o.metadata.name)).map((o) => JSON.stringify(immutablePart(o)));
          const oldParts = byKind(before, kind).filter((o) => deleted.includes(o.metadata.name)).map((o) => JSON.stringify(immutablePart(o)));
          if (u.differs.includes(kind)) assert.notDeepEqual(newParts.sort(), oldParts.sort(), `${kind}: renamed, yet nothing immutable differs`);
        } else {
          assert.deepEqual(created, [], `${kind}: renamed although nothing immutable changed`);
        }
      }
      const values = (u.after.files ?? []).map((f) => (parse(readFileSync(join(ROOT, f), 'utf8')) ?? {}) as Record<string, unknown>);
      assert.deepEqual(checkKnativeRules(after, clusterOf(values)), []);
    });
  }
  it('the check itself finds a patched immutable field', () => {
    const before = render(4, { files: PROD });
    const after = structuredClone(before);
    const trigger = byKind(after, 'Trigger')[0];
    assert.ok(trigger?.spec);
    trigger.spec.broker = 'another-broker';
    assert.match(immutableChanges(before, after).join('\n'), /^Trigger .*: \{"broker":"ev-knative-events-[0-9a-f]{8}"\} → \{"broker":"another-broker"\}$/);
  });
  it('a delivery-only change keeps every name (delivery is mutable) and renders retry: 0', () => {
    const after = render(4, { files: PROD, set: ['triggers.trades.delivery.retry=0'] });
    const trades = byKind(after, 'Trigger').find((t) => t.metadata.name.includes('-trigger-trades-'));
    assert.equal((trades?.spec?.delivery as { retry?: number }).retry, 0);
  });
});
