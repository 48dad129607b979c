// What Knative's admission webhooks and controllers do with the objects the chart renders (Knative 1.17 defaults),
// mirrored from their code. Each rule names the upstream file it mirrors; chart/README.md "Knative rules the chart
// mirrors" is the same list. The CRD schemas (schemas.ts) catch little of this: these checks are the webhook's.
// Upstream commits read: knative/serving 98e5ef90, knative/eventing 8cf4c4b6, eventing-kafka-broker 7d8fe89f
// (the same ones test/chart/schemas/crds/SOURCES.md vendors the CRDs from).
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { K8sObject } from './helm.js';

/** What the target cluster enables (the values file's `cluster` section, with the chart's defaults). */
export interface ClusterFeatures {
  allowZeroInitialScale: boolean;
  deliveryRetryAfter: boolean;
  podspecPersistentVolumeClaim: boolean;
  podspecPersistentVolumeWrite: boolean;
  maxRevisionTimeoutSeconds: number;
  containerConcurrencyMaxLimit: number;
  eventingNamespace: string;
}

export const STOCK_CLUSTER: ClusterFeatures = {
  allowZeroInitialScale: false,
  deliveryRetryAfter: false,
  podspecPersistentVolumeClaim: false,
  podspecPersistentVolumeWrite: false,
  maxRevisionTimeoutSeconds: 600,
  containerConcurrencyMaxLimit: 1000,
  eventingNamespace: 'knative-eventing',
};

export interface Rule {
  id: string;
  /** The upstream file (repository path) whose code the rule mirrors. */
  source: string;
  what: string;
}

const SERVING = 'knative/serving';
const EVENTING = 'knative/eventing';
const KAFKA = 'knative-extensions/eventing-kafka-broker';

export const RULES = {
  initialScaleZero: { id: 'serving/initial-scale-zero', source: `${SERVING} pkg/apis/autoscaling/annotation_validation.go (validateInitialScale)`, what: 'initial-scale "0" needs allow-zero-initial-scale' },
  metricNeedsHpa: { id: 'serving/metric-class', source: `${SERVING} pkg/apis/autoscaling/annotation_validation.go (validateMetric)`, what: 'metric cpu or memory needs class hpa.autoscaling.knative.dev' },
  minMaxScale: { id: 'serving/min-max-scale', source: `${SERVING} pkg/apis/autoscaling/annotation_validation.go (validateMinMaxScale)`, what: 'max-scale (unless 0) is not below min-scale' },
  windows: { id: 'serving/autoscaling-windows', source: `${SERVING} pkg/apis/autoscaling/annotation_validation.go (validateWindow, validateScaleDownDelay), pkg/apis/autoscaling/register.go`, what: 'window within 6s..1h, scale-down-delay within 0..1h, whole seconds' },
  timeout: { id: 'serving/timeout-seconds', source: `${SERVING} pkg/apis/serving/v1/revision_validation.go (validateTimeoutSeconds), pkg/apis/config/defaults.go`, what: 'timeoutSeconds at most max-revision-timeout-seconds (600)' },
  containerConcurrency: { id: 'serving/container-concurrency', source: `${SERVING} pkg/apis/serving/metadata_validation.go (ValidateContainerConcurrency), pkg/apis/config/defaults.go`, what: 'containerConcurrency at most container-concurrency-max-limit (1000)' },
  reservedPorts: { id: 'serving/reserved-ports', source: `${SERVING} pkg/apis/serving/k8s_validation.go (reservedPorts)`, what: 'container ports 8008, 8012, 8013, 8022, 9090, 9091 are reserved' },
  pvc: { id: 'serving/pvc-flags', source: `${SERVING} pkg/apis/serving/k8s_validation.go (validatePersistentVolumeClaims), pkg/apis/config/features.go`, what: 'PVC volumes need kubernetes.podspec-persistent-volume-claim, writable ones also -write' },
  readOnlyMounts: { id: 'serving/read-only-mounts', source: `${SERVING} pkg/apis/serving/k8s_validation.go (validateVolumeMounts)`, what: 'mounts of volumes other than emptyDir/PVC/ephemeral are readOnly' },
  retryAfter: { id: 'eventing/retry-after-max', source: `${EVENTING} pkg/apis/duck/v1/delivery_types.go (DeliverySpec.Validate)`, what: 'delivery.retryAfterMax needs the delivery-retryafter feature' },
  pingEvery: { id: 'eventing/ping-every', source: `${EVENTING} pkg/apis/sources/v1/ping_validation.go (validateDescriptor)`, what: 'a PingSource schedule has no @every' },
  pingJson: { id: 'eventing/ping-json-object', source: `${EVENTING} pkg/apis/sources/v1/ping_validation.go (validateJSON)`, what: 'with contentType application/json, data is a JSON object' },
  filterAndFilters: { id: 'eventing/filter-and-filters', source: `${EVENTING} pkg/broker/filter/filter_handler.go; ${KAFKA} control-plane/pkg/reconciler/trigger/trigger.go`, what: 'a Trigger sets filter or filters, not both (filters wins silently)' },
  knativeNamespaces: { id: 'eventing/knative-owned-config', source: `${EVENTING} config/core/configmaps/default-broker.yaml (config-br-defaults is installed by Knative)`, what: 'nothing rendered in Knative\'s namespaces, no config-br-defaults' },
  plainReplies: { id: 'eventing/reply-is-cloudevent', source: `${EVENTING} pkg/broker/filter/filter_handler.go (writeResponse); knative/eventing#6950 for the Kafka broker`, what: 'a subscriber answers an empty 2xx or a CloudEvent (SUBSCRIBER_PLAIN_RESULT=discard)' },
  sinkOwnsTopic: { id: 'kafka/sink-owns-topic', source: `${KAFKA} control-plane/pkg/reconciler/sink/kafka_sink.go (reconcileKind, finalizeKind)`, what: 'a KafkaSink with numPartitions and replicationFactor deletes its topic: only with the owns-topic opt-in' },
  deliveryOrder: { id: 'kafka/delivery-order', source: `${KAFKA} control-plane/pkg/reconciler/trigger/v2/triggerv2.go (deliveryOrderAnnotation)`, what: 'delivery.order is ordered or unordered, and only behind a Kafka broker' },
  triggerIdentity: { id: 'immutable/trigger-broker', source: `${EVENTING} pkg/apis/eventing/v1/trigger_validation.go (CheckImmutableFields)`, what: 'a Trigger\'s name carries the hash of spec.broker' },
  brokerIdentity: { id: 'immutable/broker-spec-class', source: `${EVENTING} pkg/apis/eventing/v1/broker_validation.go (CheckImmutableFields)`, what: 'a Broker\'s name carries the hash of its class and config' },
  sinkIdentity: { id: 'immutable/kafka-sink-topic', source: `${KAFKA} control-plane/pkg/apis/eventing/v1alpha1/kafka_sink_validation.go (CheckImmutableFields)`, what: 'a KafkaSink\'s name carries the hash of topic, numPartitions, replicationFactor' },
  publicMetrics: { id: 'chart/public-metrics', source: `${SERVING} pkg/reconciler/route/visibility/visibility.go (without the cluster-local label a route is external, every path included)`, what: 'a public service serves /metrics only behind METRICS_TOKEN' },
  dlqFileStore: { id: 'chart/dlq-file-store', source: 'docs/sink-forwarder-and-dlq.md (one writer, persistent volume)', what: 'the file store runs on a PVC with max-scale 1' },
  outboundDeadline: { id: 'chart/outbound-deadline', source: `${SERVING} pkg/apis/serving/v1/revision_validation.go (timeoutSeconds ends the request) and runtime/config.ts OUTBOUND_DEADLINE_MS`, what: 'OUTBOUND_DEADLINE_MS is below timeoutSeconds × 1000' },
  memoryLimit: { id: 'chart/memory-budget-limit', source: 'README.md MEMORY_BUDGET_BYTES (auto: from the cgroup memory limit, runtime/http/memory-budget.ts)', what: 'MEMORY_BUDGET_BYTES=auto only with resources.limits.memory' },
} as const satisfies Record<string, Rule>;

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/** Helm's `sha256sum (toJson x) | trunc 8`: Go's JSON encoder sorts map keys. */
export function chartHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 8);
}
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Obj)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface Problem {
  rule: Rule;
  at: string;
  message: string;
}

function envOf(container: unknown): Map<string, Obj> {
  return new Map(arr(obj(container).env).map((e) => [str(obj(e).name) ?? '', obj(e)]));
}

/** Every problem of a rendered manifest set against the rules (empty = a stock cluster with `cluster` accepts it). */
export function checkKnativeRules(objs: K8sObject[], cluster: ClusterFeatures = STOCK_CLUSTER): Problem[] {
  const problems: Problem[] = [];
  const report = (rule: Rule, o: K8sObject, message: string): void => {
    problems.push({ rule, at: `${o.kind} ${o.metadata.name}`, message });
  };
  const brokers = objs.filter((o) => o.kind === 'Broker');
  for (const o of objs) {
    const ns = o.metadata.namespace ?? '';
    if (['knative-eventing', 'knative-serving', cluster.eventingNamespace].includes(ns) || o.metadata.name === 'config-br-defaults') {
      report(RULES.knativeNamespaces, o, `rendered in ${ns || '(no namespace)'}: Knative owns that namespace's objects`);
    }
    const spec = obj(o.spec);
    switch (`${o.apiVersion}/${o.kind}`) {
      case 'serving.knative.dev/v1/Service':
        checkService(o, cluster, report);
        break;
      case 'eventing.knative.dev/v1/Broker':
      case 'eventing.knative.dev/v1/Trigger':
        if (obj(spec.delivery).retryAfterMax !== undefined && !cluster.deliveryRetryAfter) report(RULES.retryAfter, o, 'spec.delivery.retryAfterMax is set but delivery-retryafter is off');
        if (o.kind === 'Trigger') checkTrigger(o, brokers, report);
        else checkBrokerIdentity(o, objs, report);
        break;
      case 'sources.knative.dev/v1/PingSource': {
        const schedule = str(spec.schedule) ?? '';
        if (schedule.includes('@every')) report(RULES.pingEvery, o, `schedule ${schedule}`);
        if (spec.contentType === 'application/json') {
          const data = str(spec.data) ?? (str(spec.dataBase64) !== undefined ? Buffer.from(str(spec.dataBase64) ?? '', 'base64').toString('utf8') : undefined);
          if (data !== undefined && data !== '' && !isJsonObject(data)) report(RULES.pingJson, o, `data ${data} is not a JSON object`);
        }
        break;
      }
      case 'eventing.knative.dev/v1alpha1/KafkaSink': {
        const owns = spec.numPartitions !== undefined && spec.replicationFactor !== undefined;
        if (owns && o.metadata.annotations?.['knative-events.dev/owns-topic'] !== 'true') report(RULES.sinkOwnsTopic, o, 'sets numPartitions and replicationFactor (the controller owns and deletes the topic) without the owns-topic opt-in');
        const immutable: Obj = { topic: spec.topic };
        if (owns) Object.assign(immutable, { numPartitions: spec.numPartitions, replicationFactor: spec.replicationFactor });
        if (!o.metadata.name.endsWith(`-${chartHash(immutable)}`)) report(RULES.sinkIdentity, o, `name does not end in the hash of ${JSON.stringify(immutable)}`);
        break;
      }
      default:
        break;
    }
  }
  return problems;
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v === null || (typeof v === 'object' && !Array.isArray(v));
  } catch {
    return false;
  }
}

type Report = (rule: Rule, o: K8sObject, message: string) => void;

/** Seconds in a Go duration of whole h/m/s parts ("1h30m", "0s"); undefined for anything else (ms, fractions). */
function goSeconds(d: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === '') return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function checkService(o: K8sObject, cluster: ClusterFeatures, report: Report): void {
  const template = obj(obj(o.spec).template);
  const ann = obj(obj(template.metadata).annotations) as Record<string, string>;
  const podSpec = obj(template.spec);
  const a = (k: string): string | undefined => ann[`autoscaling.knative.dev/${k}`];
  if (a('initial-scale') === '0' && !cluster.allowZeroInitialScale) report(RULES.initialScaleZero, o, 'initial-scale "0" while allow-zero-initial-scale is off');
  const metric = a('metric');
  if ((metric === 'cpu' || metric === 'memory') && (a('class') ?? 'kpa.autoscaling.knative.dev') !== 'hpa.autoscaling.knative.dev') report(RULES.metricNeedsHpa, o, `metric ${metric} with class ${a('class') ?? 'kpa (default)'}`);
  const min = Number(a('min-scale') ?? 0);
  const max = Number(a('max-scale') ?? 0);
  if (max !== 0 && max < min) report(RULES.minMaxScale, o, `max-scale ${max} < min-scale ${min}`);
  const window = a('window');
  if (window !== undefined && !((goSeconds(window) ?? -1) >= 6 && (goSeconds(window) ?? 0) <= 3600)) report(RULES.windows, o, `window ${window} outside 6s..1h (or not whole seconds)`);
  const delay = a('scale-down-delay');
  if (delay !== undefined && !((goSeconds(delay) ?? -1) >= 0 && (goSeconds(delay) ?? 0) <= 3600)) report(RULES.windows, o, `scale-down-delay ${delay} outside 0..1h (or not whole seconds)`);
  const timeout = Number(podSpec.timeoutSeconds ?? 0);
  if (timeout > cluster.maxRevisionTimeoutSeconds || timeout < 0) report(RULES.timeout, o, `timeoutSeconds ${timeout} > ${cluster.maxRevisionTimeoutSeconds}`);
  const cc = Number(podSpec.containerConcurrency ?? 0);
  if (cc > cluster.containerConcurrencyMaxLimit || cc < 0) report(RULES.containerConcurrency, o, `containerConcurrency ${cc} > ${cluster.containerConcurrencyMaxLimit}`);
  const volumes = new Map(arr(podSpec.volumes).map((v) => [str(obj(v).name) ?? '', obj(v)]));
  for (const [name, v] of volumes) {
    const pvc = v.persistentVolumeClaim === undefined ? undefined : obj(v.persistentVolumeClaim);
    if (pvc && !cluster.podspecPersistentVolumeClaim) report(RULES.pvc, o, `volume ${name} is a PVC and kubernetes.podspec-persistent-volume-claim is off`);
    if (pvc && pvc.readOnly !== true && !cluster.podspecPersistentVolumeWrite) report(RULES.pvc, o, `volume ${name} is a writable PVC and kubernetes.podspec-persistent-volume-write is off`);
  }
  for (const c of arr(podSpec.containers)) {
    for (const p of arr(obj(c).ports)) {
      const port = Number(obj(p).containerPort);
      if ([8008, 8012, 8013, 8022, 9090, 9091].includes(port)) report(RULES.reservedPorts, o, `containerPort ${port} is reserved`);
    }
    for (const m of arr(obj(c).volumeMounts)) {
      const v = volumes.get(str(obj(m).name) ?? '');
      const writableKind = v && (v.emptyDir !== undefined || v.persistentVolumeClaim !== undefined || v.ephemeral !== undefined);
      if (v && !writableKind && obj(m).readOnly !== true) report(RULES.readOnlyMounts, o, `volumeMount ${String(obj(m).name)} must be readOnly`);
    }
    const env = envOf(c);
    const val = (n: string): string | undefined => str(env.get(n)?.value);
    const role = val('ROLE');
    if (role === 'subscriber' && val('SUBSCRIBER_PLAIN_RESULT') !== 'discard') report(RULES.plainReplies, o, 'a subscriber without SUBSCRIBER_PLAIN_RESULT=discard answers plain JSON, which every broker class fails');
    const isPublic = o.metadata.labels?.['networking.knative.dev/visibility'] !== 'cluster-local';
    if (isPublic && val('METRICS_ENABLED') !== 'false' && !env.has('METRICS_TOKEN')) report(RULES.publicMetrics, o, 'public service serves /metrics without METRICS_TOKEN');
    const deadline = Number(val('OUTBOUND_DEADLINE_MS') ?? 25_000);
    if (deadline >= (timeout || 300) * 1000) report(RULES.outboundDeadline, o, `OUTBOUND_DEADLINE_MS ${deadline} is not below timeoutSeconds ${timeout || 300} × 1000`);
    const limits = obj(obj(obj(c).resources).limits);
    if ((val('MEMORY_BUDGET_BYTES') ?? 'auto').trim().toLowerCase() === 'auto' && limits.memory === undefined) report(RULES.memoryLimit, o, 'MEMORY_BUDGET_BYTES=auto without resources.limits.memory');
    if (role === 'dlq' && val('DLQ_STORE') === 'file') {
      const file = val('DLQ_FILE') ?? '';
      const mount = arr(obj(c).volumeMounts).map(obj).find((m) => file.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`));
      if (!mount || volumes.get(str(mount.name) ?? '')?.persistentVolumeClaim === undefined) report(RULES.dlqFileStore, o, `DLQ_FILE ${file} is not on a persistentVolumeClaim`);
      if (a('max-scale') !== '1') report(RULES.dlqFileStore, o, `max-scale is ${a('max-scale') ?? 'unset'}, not 1`);
    }
  }
}

function checkTrigger(o: K8sObject, brokers: K8sObject[], report: Report): void {
  const spec = obj(o.spec);
  if (spec.filter !== undefined && spec.filters !== undefined) report(RULES.filterAndFilters, o, 'both filter and filters are set');
  const order = o.metadata.annotations?.['kafka.eventing.knative.dev/delivery.order'];
  if (order !== undefined) {
    if (order !== 'ordered' && order !== 'unordered') report(RULES.deliveryOrder, o, `delivery.order ${order}`);
    const broker = brokers.find((b) => b.metadata.name === spec.broker && b.metadata.namespace === o.metadata.namespace);
    const cls = broker?.metadata.annotations?.['eventing.knative.dev/broker.class'];
    if (cls !== undefined && cls !== 'Kafka') report(RULES.deliveryOrder, o, `delivery.order on a ${cls} broker, which ignores it`);
  }
  if (!o.metadata.name.endsWith(`-${chartHash(spec.broker)}`)) report(RULES.triggerIdentity, o, `name does not end in the hash of spec.broker ${String(spec.broker)}`);
}

function checkBrokerIdentity(o: K8sObject, objs: K8sObject[], report: Report): void {
  const cls = o.metadata.annotations?.['eventing.knative.dev/broker.class'];
  const config = obj(obj(o.spec).config);
  const identity: Obj = { class: cls, config: `${String(config.namespace)}/${String(config.name)}` };
  const cm = objs.find((x) => x.kind === 'ConfigMap' && x.metadata.name === config.name && x.metadata.namespace === config.namespace);
  if (cm && cls === 'Kafka') {
    identity.topicPartitions = Number(cm.data?.['default.topic.partitions']);
    identity.replicationFactor = Number(cm.data?.['default.topic.replication.factor']);
  } else if (cm) identity.channelTemplateSpec = parse(cm.data?.['channel-template-spec'] ?? '') as unknown;
  if (!o.metadata.name.endsWith(`-${chartHash(identity)}`)) report(RULES.brokerIdentity, o, `name does not end in the hash of ${JSON.stringify(identity)}`);
}

/** The fields Knative refuses to change on update, per kind (the same upstream files as the identity rules). */
export function immutablePart(o: K8sObject): unknown {
  const spec = obj(o.spec);
  switch (o.kind) {
    case 'Trigger':
      return { broker: spec.broker };
    case 'Broker': {
      const { delivery: _delivery, ...rest } = spec;
      return { spec: rest, class: o.metadata.annotations?.['eventing.knative.dev/broker.class'] };
    }
    case 'KafkaSink':
      return { topic: spec.topic, numPartitions: spec.numPartitions, replicationFactor: spec.replicationFactor };
    default:
      return undefined;
  }
}

/** Objects Helm would patch (same kind/namespace/name before and after) whose immutable part changes. */
export function immutableChanges(before: K8sObject[], after: K8sObject[]): string[] {
  const out: string[] = [];
  for (const a of after) {
    const b = before.find((x) => x.kind === a.kind && x.metadata.name === a.metadata.name && (x.metadata.namespace ?? '') === (a.metadata.namespace ?? ''));
    if (!b) continue;
    const was = canonicalJson(immutablePart(b) ?? null);
    const now = canonicalJson(immutablePart(a) ?? null);
    if (was !== now) out.push(`${a.kind} ${a.metadata.name}: ${was} → ${now}`);
  }
  return out;
}

/** The `cluster` section of a set of values files over the chart defaults (later files win, as with helm -f). */
export function clusterOf(values: Array<Record<string, unknown>>): ClusterFeatures {
  const c: ClusterFeatures = { ...STOCK_CLUSTER };
  for (const v of values) {
    const cl = obj(v.cluster);
    const f = obj(cl.features);
    for (const k of ['allowZeroInitialScale', 'deliveryRetryAfter', 'podspecPersistentVolumeClaim', 'podspecPersistentVolumeWrite'] as const) if (typeof f[k] === 'boolean') c[k] = f[k];
    if (typeof cl.maxRevisionTimeoutSeconds === 'number') c.maxRevisionTimeoutSeconds = cl.maxRevisionTimeoutSeconds;
    if (typeof cl.containerConcurrencyMaxLimit === 'number') c.containerConcurrencyMaxLimit = cl.containerConcurrencyMaxLimit;
    if (typeof cl.eventingNamespace === 'string') c.eventingNamespace = cl.eventingNamespace;
  }
  return c;
}
