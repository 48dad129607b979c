// Small accessors for the rendered Knative Services, shared by the render tests.
import type { K8sObject } from './helm.js';

export interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path?: string; port?: unknown } };
  readinessProbe?: { httpGet?: { path?: string; port?: unknown } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

export interface PodTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    serviceAccountName?: string;
    containerConcurrency?: number;
    timeoutSeconds?: number;
    volumes?: Array<{ name: string; emptyDir?: Record<string, unknown> }>;
    imagePullSecrets?: Array<{ name: string }>;
  };
}

export function ksvc(objs: K8sObject[], shortName: string, fullname = 'ev-knative-events'): K8sObject {
  const s = objs.find((o) => o.kind === 'Service' && o.metadata.name === `${fullname}-${shortName}`);
  if (!s) throw new Error(`no Knative Service ${fullname}-${shortName} in ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return s;
}

export function podTemplate(svc: K8sObject): PodTemplate {
  return (svc.spec as { template: PodTemplate }).template;
}

export function container(svc: K8sObject): Container {
  const c = podTemplate(svc).spec.containers[0];
  if (!c) throw new Error(`${svc.metadata.name} has no container`);
  return c;
}

/** The plain env values of a service (valueFrom entries map to undefined). */
export function env(svc: K8sObject): Record<string, string | undefined> {
  return Object.fromEntries((container(svc).env ?? []).map((e) => [e.name, e.value]));
}

export function annotations(svc: K8sObject): Record<string, string> {
  return podTemplate(svc).metadata?.annotations ?? {};
}

export function spec(o: K8sObject | undefined): Record<string, unknown> {
  if (!o?.spec) throw new Error('object without spec');
  return o.spec;
}
