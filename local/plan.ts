// Manifests + local ports → what to run: each Service's exact env with cluster addresses rewritten to
// loopback, every Trigger's subscriber URL and resolved DeliverySpec, PingSource targets, sink files.
// Pure: no I/O, so the address rules are unit-tested directly.
import { join } from 'node:path';
import { defaultDelivery, type DeliverySpec } from './delivery.js';
import { parseDuration } from './duration.js';
import { RunnerError } from './errors.js';
import type { TriggerFilter } from './filter.js';
import type {
  Destination,
  Manifests,
  PingSourceManifest,
  RawDelivery,
  ServiceManifest,
  TriggerManifest,
} from './manifests.js';

export interface ServicePlan {
  readonly name: string;
  readonly namespace: string;
  readonly short: string;
  readonly role: string;
  readonly functionName: string | undefined;
  readonly port: number;
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  /** Local folders standing in for the container's volume mounts. */
  readonly volumes: ReadonlyArray<{ readonly mountPath: string; readonly localDir: string }>;
  readonly timeoutSeconds: number | undefined;
}

export interface BrokerPlan {
  readonly name: string;
  readonly namespace: string;
  readonly path: string;
  readonly url: string;
}

export interface TriggerPlan {
  readonly name: string;
  readonly namespace: string;
  /** Path of the broker it belongs to: /<namespace>/<broker>. */
  readonly brokerPath: string;
  readonly filter: TriggerFilter;
  readonly subscriberUrl: string;
  readonly subscriberLabel: string;
  readonly delivery: DeliverySpec;
}

export interface PingPlan {
  readonly name: string;
  readonly namespace: string;
  readonly schedule: string;
  readonly timezone: string | undefined;
  readonly contentType: string | undefined;
  readonly data: string | Buffer | undefined;
  readonly extensions: Readonly<Record<string, string>>;
  readonly sinkUrl: string;
  readonly sinkLabel: string;
}

export interface SinkPlan {
  readonly name: string;
  readonly namespace: string;
  readonly path: string;
  readonly url: string;
  readonly topic: string;
  readonly contentMode: 'binary' | 'structured';
  readonly file: string;
}

export interface Plan {
  readonly services: readonly ServicePlan[];
  readonly brokers: readonly BrokerPlan[];
  readonly triggers: readonly TriggerPlan[];
  readonly pings: readonly PingPlan[];
  readonly sinks: readonly SinkPlan[];
  readonly brokerIngressUrl: string;
  readonly sinkIngressUrl: string;
  readonly ignored: readonly string[];
}

export interface PlanInputs {
  readonly host: string;
  readonly brokerPort: number;
  readonly sinkPort: number;
  /** namespace/name of each Knative Service → its port. */
  readonly servicePorts: ReadonlyMap<string, number>;
  readonly outDir: string;
  /** Secret name → key → value, from the local secrets file. */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly secretsFile: string | undefined;
  /** Replaces every service's LOG_LEVEL when set. */
  readonly logLevel: string | undefined;
  /** Where the local secrets file's `files:` were written; every service gets it as VAULT_SECRETS_DIR. */
  readonly agentSecretsDir: string | undefined;
}

const brokerHosts = /^(kafka-broker-ingress|broker-ingress)\.knative-eventing(\.svc(\.cluster\.local)?)?$/;
const sinkHosts = /^kafka-sink-ingress\.knative-eventing(\.svc(\.cluster\.local)?)?$/;
const serviceHost = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?$/;

export interface Addresses {
  readonly brokerBase: string;
  readonly sinkBase: string;
  serviceUrl(name: string, namespace: string): string | undefined;
}

/** A cluster URL → its loopback stand-in; anything else unchanged. */
export function rewriteUrl(value: string, addresses: Addresses): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return value;
  const rest = `${url.pathname}${url.search}`;
  if (brokerHosts.test(url.hostname)) return `${addresses.brokerBase}${rest}`;
  if (sinkHosts.test(url.hostname)) return `${addresses.sinkBase}${rest}`;
  const svc = serviceHost.exec(url.hostname);
  const local = svc ? addresses.serviceUrl(svc[1] ?? '', svc[2] ?? '') : undefined;
  return local ? `${local.replace(/\/$/, '')}${rest}` : value;
}

/** A Destination (ref and/or uri) → the loopback URL it addresses. */
export function resolveDestination(dest: Destination, addresses: Addresses, at: string): string {
  if (!dest.ref) return rewriteUrl(dest.uri ?? '', addresses);
  const { kind, name, namespace, apiVersion } = dest.ref;
  const group = apiVersion.split('/')[0];
  let base: string | undefined;
  if (kind === 'Service' && group === 'serving.knative.dev') base = addresses.serviceUrl(name, namespace);
  else if (kind === 'KafkaSink') base = `${addresses.sinkBase}/${namespace}/${name}`;
  else if (kind === 'Broker') base = `${addresses.brokerBase}/${namespace}/${name}`;
  else
    throw new RunnerError(
      `${at}: a ${apiVersion} ${kind} cannot run locally (the runner runs Knative Services, Brokers and KafkaSinks)`,
    );
  if (!base)
    throw new RunnerError(
      `${at}: Service ${namespace}/${name} is not in the rendered chart: enable it in the values file`,
    );
  if (!dest.uri) return base;
  return `${base.replace(/\/$/, '')}/${dest.uri.replace(/^\//, '')}`;
}

function durationMs(value: string | undefined, at: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new RunnerError(`${at}: ${JSON.stringify(value)} is not an ISO-8601 duration such as PT0.5S`);
  return ms;
}

export function deliverySpec(raw: RawDelivery | undefined, addresses: Addresses, at: string): DeliverySpec {
  if (!raw) return defaultDelivery;
  const policy = raw.backoffPolicy ?? defaultDelivery.backoffPolicy;
  if (policy !== 'linear' && policy !== 'exponential')
    throw new RunnerError(`${at}.backoffPolicy: expected linear or exponential, got ${policy}`);
  const format =
    raw.format === 'json' ? 'structured' : raw.format === undefined || raw.format === 'binary' ? 'binary' : undefined;
  if (!format) throw new RunnerError(`${at}.format: expected json or binary, got ${raw.format}`);
  return {
    retry: raw.retry ?? defaultDelivery.retry,
    backoffPolicy: policy,
    backoffDelayMs: durationMs(raw.backoffDelay, `${at}.backoffDelay`) ?? defaultDelivery.backoffDelayMs,
    timeoutMs: durationMs(raw.timeout, `${at}.timeout`) ?? defaultDelivery.timeoutMs,
    deadLetterUrl: raw.deadLetterSink
      ? resolveDestination(raw.deadLetterSink, addresses, `${at}.deadLetterSink`)
      : undefined,
    format,
  };
}

function label(dest: Destination): string {
  return dest.ref ? `${dest.ref.kind}/${dest.ref.name}${dest.uri ? dest.uri : ''}` : (dest.uri ?? '');
}

/** Where each Service, the broker ingress and the KafkaSink ingress listen on this machine. */
function localAddresses(
  manifests: Manifests,
  inputs: PlanInputs,
): { addresses: Addresses; serviceUrls: ReadonlyMap<string, string> } {
  const serviceUrls = new Map<string, string>();
  for (const s of manifests.services) {
    const port = inputs.servicePorts.get(`${s.namespace}/${s.name}`);
    if (port === undefined) throw new Error(`no port assigned to ${s.namespace}/${s.name}`);
    serviceUrls.set(`${s.namespace}/${s.name}`, `http://${inputs.host}:${port}/`);
  }
  const addresses: Addresses = {
    brokerBase: `http://${inputs.host}:${inputs.brokerPort}`,
    sinkBase: `http://${inputs.host}:${inputs.sinkPort}`,
    serviceUrl: (name, ns) => serviceUrls.get(`${ns}/${name}`),
  };
  return { addresses, serviceUrls };
}

/** A Secret's keys from the local secrets file (all of them, or one); an optional one that is missing gives none. */
function secretValues(
  inputs: PlanInputs,
  at: string,
  ref: { name: string; key?: string; optional: boolean },
  where: string,
): Record<string, string> {
  const { name, key, optional } = ref;
  const found = inputs.secrets[name];
  if (found && (key === undefined || found[key] !== undefined))
    return key === undefined ? { ...found } : { [key]: found[key] as string };
  if (optional) return {};
  const file = inputs.secretsFile ?? '(none: set local.secretsFile in the values file or pass --secrets <file>)';
  throw new RunnerError(
    `${at} ${where} needs Secret ${name}${key ? ` key ${key}` : ''}: add it to the local secrets file ${file} under secrets:, as "secrets: {${name}: {${key ?? '<key>'}: <value>}}"`,
  );
}

/** A Service's environment as its container would see it: values, Secrets and fieldRefs resolved, paths mapped to local folders. */
function serviceEnv(
  s: ServiceManifest,
  inputs: PlanInputs,
  addresses: Addresses,
  volumes: ServicePlan['volumes'],
): Record<string, string> {
  const at = `Service ${s.name}`;
  const localPath = (value: string) => {
    for (const v of volumes)
      if (value === v.mountPath || value.startsWith(`${v.mountPath}/`))
        return v.localDir + value.slice(v.mountPath.length);
    return value;
  };
  const env: Record<string, string> = {};
  for (const ref of s.envFromSecrets)
    Object.assign(env, secretValues(inputs, at, ref, `envFrom secretRef ${ref.name}`));
  for (const { name, source } of s.env) {
    if ('value' in source) env[name] = localPath(rewriteUrl(source.value, addresses));
    else if ('secretKeyRef' in source) {
      const found = secretValues(inputs, at, source.secretKeyRef, `env ${name}`);
      if (found[source.secretKeyRef.key] !== undefined) env[name] = found[source.secretKeyRef.key] as string;
    } else if (source.fieldRef === 'metadata.namespace') env[name] = s.namespace;
    else if (source.fieldRef === 'metadata.name') env[name] = `${s.name}-00001-local`;
    else
      throw new RunnerError(
        `${at} env ${name}: fieldRef ${source.fieldRef} has no local value (metadata.name and metadata.namespace do)`,
      );
  }
  if (inputs.logLevel) env.LOG_LEVEL = inputs.logLevel;
  if (inputs.agentSecretsDir) {
    if (env.VAULT_ADDR)
      throw new RunnerError(
        `${at}: vault.mode direct logs in to a real Vault; for local runs use vault.mode off (or agent) and the local secrets file's files: section`,
      );
    env.VAULT_SECRETS_DIR = inputs.agentSecretsDir;
  }
  return env;
}

function servicePlan(
  s: ServiceManifest,
  inputs: PlanInputs,
  addresses: Addresses,
  serviceUrls: ReadonlyMap<string, string>,
): ServicePlan {
  const volumes = s.volumeMounts.map((m) => ({
    mountPath: m.mountPath.replace(/\/$/, ''),
    localDir: join(inputs.outDir, 'volumes', s.short, m.name),
  }));
  const env = serviceEnv(s, inputs, addresses, volumes);
  const url = serviceUrls.get(`${s.namespace}/${s.name}`) as string;
  const port = new URL(url).port;
  // What Knative Serving injects into every container.
  Object.assign(env, { PORT: port, K_SERVICE: s.name, K_CONFIGURATION: s.name, K_REVISION: `${s.name}-00001` });
  // The probes' own listener is for Knative's probers (runtime/probe-server.ts): locally nothing probes it, and the
  // chart's one port number (serviceDefaults.probePort) cannot be listened on by every service of one machine.
  delete env.PROBE_PORT;
  return {
    name: s.name,
    namespace: s.namespace,
    short: s.short,
    role: env.ROLE ?? '?',
    functionName: env.FUNCTION,
    port: Number(port),
    url,
    env,
    volumes,
    timeoutSeconds: s.timeoutSeconds,
  };
}

function triggerPlan(t: TriggerManifest, manifests: Manifests, addresses: Addresses): TriggerPlan {
  const at = `Trigger ${t.name}`;
  const broker = manifests.brokers.find((b) => b.name === t.broker && b.namespace === t.namespace);
  if (!broker)
    throw new RunnerError(
      `${at}: broker ${t.namespace}/${t.broker} is not in the rendered chart (an existing broker cannot be run locally: set broker.create: true)`,
    );
  // spec.delivery on the Trigger replaces the Broker's.
  const raw = t.delivery ?? broker.delivery;
  return {
    name: t.name,
    namespace: t.namespace,
    brokerPath: `/${broker.namespace}/${broker.name}`,
    filter: t.filter,
    subscriberUrl: resolveDestination(t.subscriber, addresses, `${at} spec.subscriber`),
    subscriberLabel: label(t.subscriber),
    delivery: deliverySpec(
      raw,
      addresses,
      `${at} ${t.delivery ? 'spec.delivery' : `(broker ${broker.name}) spec.delivery`}`,
    ),
  };
}

function pingPlan(p: PingSourceManifest, addresses: Addresses): PingPlan {
  const at = `PingSource ${p.name}`;
  if (p.data !== undefined && p.dataBase64 !== undefined)
    throw new RunnerError(`${at}: data and dataBase64 are exclusive`);
  return {
    name: p.name,
    namespace: p.namespace,
    schedule: p.schedule,
    timezone: p.timezone,
    contentType: p.contentType,
    data: p.dataBase64 !== undefined ? Buffer.from(p.dataBase64, 'base64') : p.data,
    extensions: p.extensions,
    sinkUrl: resolveDestination(p.sink, addresses, `${at} spec.sink`),
    sinkLabel: label(p.sink),
  };
}

export function buildPlan(manifests: Manifests, inputs: PlanInputs): Plan {
  const { addresses, serviceUrls } = localAddresses(manifests, inputs);
  const { brokerBase: brokerIngressUrl, sinkBase: sinkIngressUrl } = addresses;
  const sinks = manifests.kafkaSinks.map((k): SinkPlan => ({
    name: k.name,
    namespace: k.namespace,
    path: `/${k.namespace}/${k.name}`,
    url: `${sinkIngressUrl}/${k.namespace}/${k.name}`,
    topic: k.topic,
    contentMode: k.contentMode,
    file: join(inputs.outDir, 'kafka', `${k.topic}.jsonl`),
  }));
  return {
    services: manifests.services.map((s) => servicePlan(s, inputs, addresses, serviceUrls)),
    brokers: manifests.brokers.map((b): BrokerPlan => ({
      name: b.name,
      namespace: b.namespace,
      path: `/${b.namespace}/${b.name}`,
      url: `${brokerIngressUrl}/${b.namespace}/${b.name}`,
    })),
    triggers: manifests.triggers.map((t) => triggerPlan(t, manifests, addresses)),
    pings: manifests.pingSources.map((p) => pingPlan(p, addresses)),
    sinks,
    brokerIngressUrl,
    sinkIngressUrl,
    ignored: manifests.ignored,
  };
}
