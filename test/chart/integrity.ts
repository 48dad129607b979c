// Referential integrity of a rendered manifest set: every reference, URL and name points at something rendered
// (or at something declared external, such as an existing broker). Written against the seed's mistakes: a Broker
// config map named one way and referenced another, dead-letter sinks and subscribers that are never defined,
// KafkaSink auth under a dotted key, a Vault secret whose template has another name, tls-skip-verify on, and
// containers named differently.
import type { K8sObject } from './helm.js';

export interface ObjectRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface IntegrityOptions {
  /** Objects that exist outside the release (an existing broker, a config map Knative installed). */
  external?: ObjectRef[];
  /** The one container name every Knative Service uses. */
  containerName?: string;
}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function obj(x: unknown): Obj | undefined {
  return isObj(x) ? x : undefined;
}
function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}
function arr(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}
function at(o: unknown, ...path: string[]): unknown {
  let cur: unknown = o;
  for (const p of path) cur = obj(cur)?.[p];
  return cur;
}

const ADDRESSABLE = new Set(['serving.knative.dev/v1/Service', 'eventing.knative.dev/v1/Broker', 'eventing.knative.dev/v1alpha1/KafkaSink']);

// <service>.<eventing namespace>.svc.<cluster domain> (clusterDomain and cluster.eventingNamespace are values)
const BROKER_URL = /^http:\/\/(kafka-broker-ingress|broker-ingress)\.[a-z0-9-]+\.svc\.[a-z0-9.-]+\/([^/]+)\/([^/]+)$/;
const SINK_URL = /^http:\/\/kafka-sink-ingress\.[a-z0-9-]+\.svc\.[a-z0-9.-]+\/([^/]+)\/([^/]+)$/;
const KSVC_URL = /^http:\/\/([^./]+)\.([^./]+)\.svc\.[a-z0-9.-]+(\/.*)?$/;

class Index {
  private readonly items = new Map<string, { apiVersion?: string; obj?: K8sObject }>();
  constructor(objs: K8sObject[], external: ObjectRef[], problems: string[]) {
    for (const o of objs) {
      const k = Index.key(o.kind, o.metadata.namespace ?? '', o.metadata.name);
      if (this.items.has(k)) problems.push(`duplicate ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      this.items.set(k, { apiVersion: o.apiVersion, obj: o });
    }
    for (const e of external) this.items.set(Index.key(e.kind, e.namespace ?? '', e.name), { apiVersion: e.apiVersion });
  }
  static key(kind: string, ns: string, name: string): string {
    return `${kind}|${ns}|${name}`;
  }
  get(kind: string, ns: string, name: string): { apiVersion?: string; obj?: K8sObject } | undefined {
    return this.items.get(Index.key(kind, ns, name));
  }
}

function id(o: K8sObject): string {
  return `${o.kind} ${o.metadata.name}`;
}

/** Returns every problem found (empty = the set is consistent). */
export function checkIntegrity(objs: K8sObject[], options: IntegrityOptions = {}): string[] {
  const problems: string[] = [];
  const index = new Index(objs, options.external ?? [], problems);
  const nsOf = (o: K8sObject): string => o.metadata.namespace ?? '';

  const checkRef = (where: string, ref: unknown, holderNs: string, addressable: boolean): void => {
    const r = obj(ref);
    const kind = str(r?.kind);
    const name = str(r?.name);
    if (!r || !kind || !name) {
      problems.push(`${where}: ref needs kind and name`);
      return;
    }
    const ns = str(r.namespace) ?? holderNs;
    const found = index.get(kind, ns, name);
    if (!found) {
      problems.push(`${where}: ${kind} ${ns}/${name} is not rendered`);
      return;
    }
    const apiVersion = str(r.apiVersion);
    if (apiVersion && found.apiVersion && apiVersion !== found.apiVersion) {
      problems.push(`${where}: ${kind} ${name} is ${found.apiVersion}, ref says ${apiVersion}`);
    }
    if (addressable && apiVersion && !ADDRESSABLE.has(`${apiVersion}/${kind}`) && found.obj) {
      problems.push(`${where}: ${apiVersion} ${kind} is not addressable`);
    }
  };

  const checkDestination = (where: string, dest: unknown, holderNs: string): void => {
    const d = obj(dest);
    if (!d) {
      problems.push(`${where}: missing destination`);
      return;
    }
    if (d.ref !== undefined) checkRef(`${where}.ref`, d.ref, holderNs, true);
    const uri = str(d.uri);
    if (d.ref === undefined && !uri) problems.push(`${where}: needs ref or uri`);
    if (uri && d.ref === undefined && !/^[a-z][a-z0-9+.-]*:\/\/[^/]+/.test(uri)) problems.push(`${where}.uri: ${uri} is not an absolute URL`);
  };

  const checkDelivery = (where: string, delivery: unknown, holderNs: string): void => {
    const d = obj(delivery);
    if (d?.deadLetterSink !== undefined) checkDestination(`${where}.deadLetterSink`, d.deadLetterSink, holderNs);
  };

  for (const o of objs) {
    const ns = nsOf(o);
    const spec = o.spec ?? {};
    switch (`${o.apiVersion}/${o.kind}`) {
      case 'eventing.knative.dev/v1/Broker': {
        const cls = o.metadata.annotations?.['eventing.knative.dev/broker.class'];
        if (!cls) problems.push(`${id(o)}: no eventing.knative.dev/broker.class annotation`);
        if (spec.config !== undefined) checkRef(`${id(o)} spec.config`, spec.config, ns, false);
        checkDelivery(`${id(o)} spec.delivery`, spec.delivery, ns);
        break;
      }
      case 'eventing.knative.dev/v1/Trigger': {
        const broker = str(spec.broker);
        if (!broker) problems.push(`${id(o)}: spec.broker missing`);
        else if (!index.get('Broker', ns, broker)) problems.push(`${id(o)} spec.broker: Broker ${ns}/${broker} is not rendered`);
        checkDestination(`${id(o)} spec.subscriber`, spec.subscriber, ns);
        checkDelivery(`${id(o)} spec.delivery`, spec.delivery, ns);
        break;
      }
      case 'sources.knative.dev/v1/PingSource':
        checkDestination(`${id(o)} spec.sink`, spec.sink, ns);
        if (spec.data !== undefined && spec.dataBase64 !== undefined) problems.push(`${id(o)}: data and dataBase64 both set`);
        break;
      case 'eventing.knative.dev/v1alpha1/KafkaSink': {
        for (const k of Object.keys(spec)) {
          if (k.includes('.')) problems.push(`${id(o)}: dotted key spec["${k}"] (auth belongs at spec.auth.secret.ref.name)`);
        }
        if (spec.auth !== undefined && !str(at(spec, 'auth', 'secret', 'ref', 'name'))) problems.push(`${id(o)}: spec.auth without secret.ref.name`);
        break;
      }
      case 'v1/ConfigMap': {
        if (o.data && 'auth.secret.ref.name' in o.data && !o.data['auth.secret.ref.name']) problems.push(`${id(o)}: empty auth.secret.ref.name`);
        break;
      }
      case 'serving.knative.dev/v1/Service':
        checkKnativeService(o, index, options, problems);
        break;
      case 'v1/Pod': {
        if (o.metadata.annotations?.['helm.sh/hook'] === 'test') {
          for (const c of arr(at(spec, 'containers'))) {
            for (const e of arr(at(c, 'env'))) {
              const url = str(at(e, 'value'));
              const m = url ? KSVC_URL.exec(url) : null;
              if (str(at(e, 'name')) === 'TARGET' && (!m || !index.get('Service', m[2] ?? '', m[1] ?? ''))) {
                problems.push(`${id(o)}: TARGET ${url ?? '(none)'} is not a rendered Knative Service`);
              }
            }
          }
        }
        break;
      }
      case 'monitoring.coreos.com/v1/PodMonitor': {
        const sel = obj(at(spec, 'selector', 'matchLabels')) ?? {};
        const hit = objs.some(
          (s) => s.kind === 'Service' && Object.entries(sel).every(([k, v]) => obj(at(s, 'spec', 'template', 'metadata', 'labels'))?.[k] === v),
        );
        if (!hit) problems.push(`${id(o)}: selector matches no rendered pod template`);
        break;
      }
      default:
        break;
    }
  }
  return problems;
}

function checkKnativeService(o: K8sObject, index: Index, options: IntegrityOptions, problems: string[]): void {
  const ns = o.metadata.namespace ?? '';
  const tmeta = obj(at(o, 'spec', 'template', 'metadata')) ?? {};
  if (tmeta.name !== undefined) problems.push(`${id(o)}: spec.template.metadata.name is set (a redeploy collides with an existing revision)`);
  const ann = (obj(tmeta.annotations) ?? {}) as Record<string, unknown>;

  // Vault: every injected secret has a template of the same file name, and the reverse; TLS verification on.
  const secrets = new Set<string>();
  const templates = new Set<string>();
  for (const k of Object.keys(ann)) {
    const s = /^vault\.hashicorp\.com\/agent-inject-secret-(.+)$/.exec(k);
    if (s?.[1]) secrets.add(s[1]);
    const t = /^vault\.hashicorp\.com\/agent-inject-template-(.+)$/.exec(k);
    if (t?.[1]) templates.add(t[1]);
  }
  for (const f of secrets) if (!templates.has(f)) problems.push(`${id(o)}: Vault secret "${f}" has no agent-inject-template-${f}`);
  for (const f of templates) if (!secrets.has(f)) problems.push(`${id(o)}: Vault template "${f}" has no agent-inject-secret-${f}`);
  if (ann['vault.hashicorp.com/tls-skip-verify'] === 'true') problems.push(`${id(o)}: vault.hashicorp.com/tls-skip-verify is "true"`);

  const containers = arr(at(o, 'spec', 'template', 'spec', 'containers'));
  if (containers.length !== 1) problems.push(`${id(o)}: ${containers.length} containers (the runtime image runs alone)`);
  const volumes = new Set(arr(at(o, 'spec', 'template', 'spec', 'volumes')).map((v) => str(at(v, 'name'))));
  for (const c of containers) {
    const cname = str(at(c, 'name'));
    if (options.containerName && cname !== options.containerName) {
      problems.push(`${id(o)}: container "${cname ?? ''}" should be named "${options.containerName}"`);
    }
    for (const m of arr(at(c, 'volumeMounts'))) {
      const vn = str(at(m, 'name'));
      if (!volumes.has(vn)) problems.push(`${id(o)}: volumeMount ${vn ?? ''} has no volume`);
    }
    const env = new Map<string, unknown>();
    for (const e of arr(at(c, 'env'))) {
      const n = str(at(e, 'name'));
      if (!n) continue;
      if (env.has(n)) problems.push(`${id(o)}: env ${n} set twice`);
      env.set(n, e);
    }
    const val = (n: string): string | undefined => str(at(env.get(n), 'value'));
    const role = val('ROLE');
    if (!role) problems.push(`${id(o)}: no ROLE env`);
    if ((role === 'subscriber' || role === 'sink-forwarder') && !val('FUNCTION')) problems.push(`${id(o)}: role ${role} without FUNCTION`);
    if (env.has('PORT')) problems.push(`${id(o)}: PORT is set (Knative injects it)`);
    const visibility = o.metadata.labels?.['networking.knative.dev/visibility'];
    if (role && role !== 'handler' && visibility !== 'cluster-local') problems.push(`${id(o)}: role ${role} is not cluster-local`);

    const brokerUrl = val('BROKER_URL');
    if ((role === 'handler' || role === 'dlq') && !brokerUrl) problems.push(`${id(o)}: role ${role} without BROKER_URL`);
    if (brokerUrl) {
      const m = BROKER_URL.exec(brokerUrl);
      if (!m) problems.push(`${id(o)}: BROKER_URL ${brokerUrl} is not a broker ingress URL`);
      else {
        const found = index.get('Broker', m[2] ?? '', m[3] ?? '');
        if (!found) problems.push(`${id(o)}: BROKER_URL points to Broker ${m[2] ?? ''}/${m[3] ?? ''}, which is not rendered`);
        const cls = found?.obj?.metadata.annotations?.['eventing.knative.dev/broker.class'];
        const wantIngress = cls === 'Kafka' ? 'kafka-broker-ingress' : 'broker-ingress';
        if (cls && m[1] !== wantIngress) problems.push(`${id(o)}: BROKER_URL uses ${m[1] ?? ''} but the broker class is ${cls}`);
      }
    }
    const sinkUrl = val('KAFKA_SINK_URL');
    if (role === 'sink-forwarder' && !sinkUrl) problems.push(`${id(o)}: sink-forwarder without KAFKA_SINK_URL`);
    if (sinkUrl) {
      const m = SINK_URL.exec(sinkUrl);
      const found = m ? index.get('KafkaSink', m[1] ?? '', m[2] ?? '') : undefined;
      if (!m) problems.push(`${id(o)}: KAFKA_SINK_URL ${sinkUrl} is not a KafkaSink ingress URL`);
      else if (!found) problems.push(`${id(o)}: KAFKA_SINK_URL points to KafkaSink ${m[1] ?? ''}/${m[2] ?? ''}, which is not rendered`);
      const mode = val('SINK_CONTENT_MODE');
      const sinkMode = str(found?.obj?.spec?.contentMode) ?? 'binary';
      if (found?.obj && mode !== sinkMode) problems.push(`${id(o)}: SINK_CONTENT_MODE ${mode ?? '(unset)'} but the KafkaSink's contentMode is ${sinkMode}`);
    }
    for (const [n, e] of env) {
      const ref = obj(at(e, 'valueFrom', 'secretKeyRef'));
      if (ref && (!str(ref.name) || !str(ref.key))) problems.push(`${id(o)}: env ${n} secretKeyRef needs name and key`);
    }
    if (ns === '') problems.push(`${id(o)}: no namespace`);
  }
}
