// Rendered chart → the Knative objects the runner runs, typed. Only what the runner acts on is read;
// every other kind (ConfigMaps, the helm-test Pod, dashboards) is listed as ignored. A manifest the runner
// cannot honour (a cesql filter, an env var from a ConfigMap) throws an error naming the object and field.
import { parseAllDocuments } from 'yaml';
import { parseTriggerFilter, type TriggerFilter } from './filter.js';

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface Destination {
  readonly ref?: ObjectRef;
  readonly uri?: string;
}

export type EnvSource =
  | { readonly value: string }
  | { readonly secretKeyRef: { readonly name: string; readonly key: string; readonly optional: boolean } }
  | { readonly fieldRef: string };

export interface ServiceManifest {
  readonly name: string;
  readonly namespace: string;
  /** app.kubernetes.io/component: the key under `services:` in values; the name when absent. */
  readonly short: string;
  readonly env: ReadonlyArray<{ readonly name: string; readonly source: EnvSource }>;
  /** Secrets whose every key becomes an env var (envFrom.secretRef). */
  readonly envFromSecrets: ReadonlyArray<{ readonly name: string; readonly optional: boolean }>;
  readonly volumeMounts: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>;
  readonly timeoutSeconds: number | undefined;
  /** Files the Vault agent injector would render into the pod (annotations agent-inject-secret-<file>). */
  readonly vaultAgentFiles: readonly string[];
}

export interface RawDelivery {
  readonly retry?: number;
  readonly backoffPolicy?: string;
  readonly backoffDelay?: string;
  readonly timeout?: string;
  readonly deadLetterSink?: Destination;
  readonly format?: string;
}

export interface BrokerManifest {
  readonly name: string;
  readonly namespace: string;
  readonly className: string;
  readonly delivery: RawDelivery | undefined;
}

export interface TriggerManifest {
  readonly name: string;
  readonly namespace: string;
  readonly broker: string;
  readonly filter: TriggerFilter;
  readonly subscriber: Destination;
  readonly delivery: RawDelivery | undefined;
}

export interface PingSourceManifest {
  readonly name: string;
  readonly namespace: string;
  readonly schedule: string;
  readonly timezone: string | undefined;
  readonly contentType: string | undefined;
  readonly data: string | undefined;
  readonly dataBase64: string | undefined;
  readonly extensions: Readonly<Record<string, string>>;
  readonly sink: Destination;
}

export interface KafkaSinkManifest {
  readonly name: string;
  readonly namespace: string;
  readonly topic: string;
  readonly contentMode: 'binary' | 'structured';
}

export interface Manifests {
  readonly services: readonly ServiceManifest[];
  readonly brokers: readonly BrokerManifest[];
  readonly triggers: readonly TriggerManifest[];
  readonly pingSources: readonly PingSourceManifest[];
  readonly kafkaSinks: readonly KafkaSinkManifest[];
  /** "Kind/name" of everything else, for the summary. */
  readonly ignored: readonly string[];
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const obj = (x: unknown): Obj => (isObj(x) ? x : {});
const str = (x: unknown): string | undefined =>
  typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined;

function required(x: unknown, at: string): string {
  const s = str(x);
  if (s === undefined || s === '') throw new Error(`${at}: required`);
  return s;
}

function destination(raw: unknown, at: string, namespace: string): Destination {
  const d = obj(raw);
  const uri = str(d.uri);
  if (d.ref === undefined && uri === undefined) throw new Error(`${at}: needs a ref or a uri`);
  if (d.ref === undefined) return { uri };
  const r = obj(d.ref);
  const ref = {
    apiVersion: required(r.apiVersion, `${at}.ref.apiVersion`),
    kind: required(r.kind, `${at}.ref.kind`),
    name: required(r.name, `${at}.ref.name`),
    namespace: str(r.namespace) ?? namespace,
  };
  return uri === undefined ? { ref } : { ref, uri };
}

function delivery(raw: unknown, at: string, namespace: string): RawDelivery | undefined {
  if (raw === undefined || raw === null) return undefined;
  const d = obj(raw);
  const retry = d.retry === undefined ? undefined : Number(d.retry);
  if (retry !== undefined && (!Number.isInteger(retry) || retry < 0))
    throw new Error(`${at}.retry: expected a whole number, got ${JSON.stringify(d.retry)}`);
  return {
    retry,
    backoffPolicy: str(d.backoffPolicy),
    backoffDelay: str(d.backoffDelay),
    timeout: str(d.timeout),
    format: str(d.format),
    deadLetterSink:
      d.deadLetterSink === undefined ? undefined : destination(d.deadLetterSink, `${at}.deadLetterSink`, namespace),
  };
}

type EnvEntry = ServiceManifest['env'][number];

/** One container env entry: a plain value, or a secretKeyRef / fieldRef (what the runner can resolve locally). */
function envEntry(e: unknown, i: number, at: string): EnvEntry {
  const entry = obj(e);
  const envName = required(entry.name, `${at} env[${i}].name`);
  const where = `${at} env ${envName}`;
  if (entry.valueFrom === undefined) return { name: envName, source: { value: str(entry.value) ?? '' } };
  const from = obj(entry.valueFrom);
  if (from.secretKeyRef !== undefined) {
    const ref = obj(from.secretKeyRef);
    return {
      name: envName,
      source: {
        secretKeyRef: {
          name: required(ref.name, `${where}.valueFrom.secretKeyRef.name`),
          key: required(ref.key, `${where}.valueFrom.secretKeyRef.key`),
          optional: ref.optional === true,
        },
      },
    };
  }
  if (from.fieldRef !== undefined)
    return {
      name: envName,
      source: { fieldRef: required(obj(from.fieldRef).fieldPath, `${where}.valueFrom.fieldRef.fieldPath`) },
    };
  throw new Error(
    `${where}: valueFrom ${Object.keys(from).join(', ')} cannot be resolved locally (only secretKeyRef, from the local secrets file, and fieldRef)`,
  );
}

/** One envFrom entry: only a Secret's keys can be supplied locally (from the local secrets file). */
function envFromSecret(e: unknown, i: number, at: string): ServiceManifest['envFromSecrets'][number] {
  const entry = obj(e);
  if (entry.secretRef === undefined)
    throw new Error(`${at} envFrom[${i}]: only secretRef can be resolved locally (from the local secrets file)`);
  return {
    name: required(obj(entry.secretRef).name, `${at} envFrom[${i}].secretRef.name`),
    optional: obj(entry.secretRef).optional === true,
  };
}

const agentPrefix = 'vault.hashicorp.com/agent-inject-secret-';

/** The files the Vault agent injector would render, one per `agent-inject-secret-<file>` pod annotation. */
function vaultAgentFiles(o: Obj): string[] {
  const podAnnotations = obj(obj(obj(obj(o.spec).template).metadata).annotations);
  return Object.keys(podAnnotations)
    .filter((k) => k.startsWith(agentPrefix))
    .map((k) => k.slice(agentPrefix.length))
    .sort();
}

function service(o: Obj, name: string, namespace: string, at: string): ServiceManifest {
  const spec = obj(obj(obj(o.spec).template).spec);
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length !== 1)
    throw new Error(`${at}.spec.template.spec.containers: expected exactly one container, got ${containers.length}`);
  const c = obj(containers[0]);
  const env = (Array.isArray(c.env) ? c.env : []).map((e, i) => envEntry(e, i, at));
  const envFromSecrets = (Array.isArray(c.envFrom) ? c.envFrom : []).map((e, i) => envFromSecret(e, i, at));
  const volumeMounts = (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).map((m, i) => ({
    name: required(obj(m).name, `${at} volumeMounts[${i}].name`),
    mountPath: required(obj(m).mountPath, `${at} volumeMounts[${i}].mountPath`),
  }));
  const labels = obj(obj(o.metadata).labels);
  return {
    name,
    namespace,
    short: str(labels['app.kubernetes.io/component']) ?? name,
    env,
    envFromSecrets,
    volumeMounts,
    timeoutSeconds: spec.timeoutSeconds === undefined ? undefined : Number(spec.timeoutSeconds),
    vaultAgentFiles: vaultAgentFiles(o),
  };
}

/** What each kind's reader gets: the object's name and namespace, `at` to name it in errors, its spec and metadata. */
interface Read {
  readonly name: string;
  readonly namespace: string;
  readonly at: string;
  readonly spec: Obj;
  readonly meta: Obj;
}

function broker({ name, namespace, at, spec, meta }: Read): BrokerManifest {
  const className = str(obj(meta.annotations)['eventing.knative.dev/broker.class']) ?? 'MTChannelBasedBroker';
  return { name, namespace, className, delivery: delivery(spec.delivery, `${at} spec.delivery`, namespace) };
}

function trigger({ name, namespace, at, spec }: Read): TriggerManifest {
  return {
    name,
    namespace,
    broker: required(spec.broker, `${at} spec.broker`),
    filter: parseTriggerFilter(spec, `${at} spec`),
    subscriber: destination(spec.subscriber, `${at} spec.subscriber`, namespace),
    delivery: delivery(spec.delivery, `${at} spec.delivery`, namespace),
  };
}

function pingSource({ name, namespace, at, spec }: Read): PingSourceManifest {
  const extensions: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(obj(spec.ceOverrides).extensions))) extensions[k] = str(v) ?? '';
  return {
    name,
    namespace,
    schedule: required(spec.schedule, `${at} spec.schedule`),
    timezone: str(spec.timezone),
    contentType: str(spec.contentType),
    data: str(spec.data),
    dataBase64: str(spec.dataBase64),
    extensions,
    sink: destination(spec.sink, `${at} spec.sink`, namespace),
  };
}

function kafkaSink({ name, namespace, at, spec }: Read): KafkaSinkManifest {
  const mode = str(spec.contentMode) ?? 'binary';
  if (mode !== 'binary' && mode !== 'structured')
    throw new Error(`${at} spec.contentMode: expected binary or structured, got ${mode}`);
  return { name, namespace, topic: required(spec.topic, `${at} spec.topic`), contentMode: mode };
}

/** Parses `helm template` output. */
export function readManifests(text: string, defaultNamespace = 'default'): Manifests {
  const out = {
    services: [] as ServiceManifest[],
    brokers: [] as BrokerManifest[],
    triggers: [] as TriggerManifest[],
    pingSources: [] as PingSourceManifest[],
    kafkaSinks: [] as KafkaSinkManifest[],
    ignored: [] as string[],
  };
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length > 0)
      throw new Error(`the rendered chart is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    const o = doc.toJS() as unknown;
    if (!isObj(o)) continue;
    const kind = str(o.kind) ?? '?';
    // The API group as well as the kind: a Service of another group (core v1) is not a Knative Service.
    const apiGroup = (str(o.apiVersion) ?? '').split('/')[0];
    const meta = obj(o.metadata);
    const name = required(meta.name, `${kind} metadata.name`);
    const namespace = str(meta.namespace) ?? defaultNamespace;
    const read: Read = { name, namespace, at: `${kind} ${name}`, spec: obj(o.spec), meta };
    if (kind === 'Service' && apiGroup === 'serving.knative.dev')
      out.services.push(service(o, name, namespace, read.at));
    else if (kind === 'Broker' && apiGroup === 'eventing.knative.dev') out.brokers.push(broker(read));
    else if (kind === 'Trigger' && apiGroup === 'eventing.knative.dev') out.triggers.push(trigger(read));
    else if (kind === 'PingSource' && apiGroup === 'sources.knative.dev') out.pingSources.push(pingSource(read));
    else if (kind === 'KafkaSink' && apiGroup === 'eventing.knative.dev') out.kafkaSinks.push(kafkaSink(read));
    else out.ignored.push(`${kind}/${name}`);
  }
  return out;
}
