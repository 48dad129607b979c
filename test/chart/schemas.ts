// Validates rendered objects against the vendored strict schemas (test/chart/schemas/): the upstream Knative and
// KafkaSink CRDs (made strict by build/extract-crd-schemas.mjs) and small hand-written Kubernetes schemas.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { K8sObject } from './helm.js';

const DIR = fileURLToPath(new URL('./schemas/', import.meta.url));

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

let validators: Map<string, ValidateFunction> | undefined;

function key(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

function build(): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  ajv.addSchema(load(join(DIR, 'k8s', '_meta.json')));
  const map = new Map<string, ValidateFunction>();
  const add = (schema: Record<string, unknown>): void => {
    const props = schema.properties as Record<string, { const?: string }>;
    const apiVersion = props.apiVersion?.const;
    const kind = props.kind?.const;
    if (!apiVersion || !kind) throw new Error(`schema ${String(schema.$id)} has no apiVersion/kind const`);
    map.set(key(apiVersion, kind), ajv.compile(schema));
  };
  for (const f of readdirSync(join(DIR, 'crds')).filter((f) => f.endsWith('.json'))) add(load(join(DIR, 'crds', f)));
  for (const f of readdirSync(join(DIR, 'k8s')).filter((f) => f.endsWith('.json') && !f.startsWith('_'))) add(load(join(DIR, 'k8s', f)));
  return map;
}

export function knownKinds(): string[] {
  validators ??= build();
  return [...validators.keys()].sort();
}

function describe(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'` : '';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
}

/** Problems of one object against its schema; an object whose kind has no schema is a problem too. */
export function validateObject(o: K8sObject): string[] {
  validators ??= build();
  const v = validators.get(key(o.apiVersion, o.kind));
  const id = `${o.kind} ${o.metadata.name}`;
  if (!v) return [`${id}: no schema for ${o.apiVersion} ${o.kind}`];
  if (v(o)) return [];
  return (v.errors ?? []).map((e) => `${id}: ${describe(e)}`);
}

export function validateAll(objs: K8sObject[]): string[] {
  return objs.flatMap(validateObject);
}
