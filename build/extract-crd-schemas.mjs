// Turns upstream CustomResourceDefinitions into strict JSON Schemas (draft-07) for validating what the chart renders.
//
//   node build/extract-crd-schemas.mjs <crd-dir> [out-dir = test/chart/schemas/crds]
//
// For every served version of every CRD in <crd-dir> it writes <out-dir>/<kind>.<group>_<version>.json.
// The CRD's openAPIV3Schema is made strict the way `kubeconform -strict` reads it: an object that lists
// properties and is not marked x-kubernetes-preserve-unknown-fields gets additionalProperties: false, so a
// typo (the seed's spec["auth.secret.ref.name"]) is an error instead of being pruned silently by the API
// server. Also: x-kubernetes-int-or-string becomes type [integer, string]; format int32/int64 become
// minimum/maximum; nullable adds "null"; array minLength (a KafkaSink CRD slip) becomes minItems;
// descriptions, defaults, status and other x-kubernetes-* keys are dropped; apiVersion, kind and a small
// ObjectMeta schema are added at the top. A SOURCES.md in <crd-dir> is copied beside the output.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const INT_RANGE = {
  int32: { minimum: -2147483648, maximum: 2147483647 },
  int64: { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
};

const OBJECT_META = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    finalizers: { type: 'array', items: { type: 'string' } },
  },
};

/** Makes one openAPIV3Schema node strict (returns a new object). */
export function strictify(node) {
  if (Array.isArray(node)) return node.map(strictify);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'description' || k === 'default' || k === 'example' || k.startsWith('x-kubernetes-')) continue;
    if (k === 'format' && (v === 'int32' || v === 'int64')) {
      Object.assign(out, INT_RANGE[v]);
      continue;
    }
    if (k === 'format') continue;
    if (k === 'nullable') continue;
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strictify(s)]));
      continue;
    }
    out[k] = strictify(v);
  }
  if (node['x-kubernetes-int-or-string'] === true) out.type = ['integer', 'string'];
  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (out.type === 'array' && out.minLength !== undefined) {
    out.minItems = out.minLength;
    delete out.minLength;
  }
  if (out.type === 'object' && out.properties && !preserve && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

/** JSON Schemas for every served version of one CRD document. */
export function crdToSchemas(crd) {
  const { group, names, versions } = crd.spec;
  const out = [];
  for (const v of versions) {
    if (!v.served) continue;
    const src = v.schema?.openAPIV3Schema;
    if (!src) continue;
    const body = strictify(src);
    delete body.properties?.status;
    body.properties = {
      ...body.properties,
      apiVersion: { const: `${group}/${v.name}` },
      kind: { const: names.kind },
      metadata: OBJECT_META,
    };
    body.required = [...new Set([...(body.required ?? []), 'apiVersion', 'kind', 'metadata'])];
    body.additionalProperties = false;
    out.push({
      file: `${names.kind}.${group}_${v.name}.json`,
      schema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        $id: `${names.kind}.${group}_${v.name}`,
        title: `${names.kind} ${group}/${v.name} (strict, from the upstream CRD)`,
        ...body,
      },
    });
  }
  return out;
}

function main() {
  const [crdDir, outArg] = process.argv.slice(2);
  if (!crdDir) {
    console.error('usage: node build/extract-crd-schemas.mjs <crd-dir> [out-dir]');
    process.exit(2);
  }
  const outDir = resolve(outArg ?? 'test/chart/schemas/crds');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const files = readdirSync(crdDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(crdDir, f), 'utf8'))) {
      const crd = doc.toJS();
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const { file, schema } of crdToSchemas(crd)) {
        writeFileSync(join(outDir, file), `${JSON.stringify(schema, null, 1)}\n`);
        console.log(`${f} -> ${join(outDir, file)}`);
      }
    }
  }
  const sources = existsSync(join(crdDir, 'SOURCES.md')) ? readFileSync(join(crdDir, 'SOURCES.md'), 'utf8') : '';
  writeFileSync(
    join(outDir, 'SOURCES.md'),
    '# Vendored schemas\n\nGenerated by `node build/extract-crd-schemas.mjs <crd-dir>` from the upstream CRDs listed below ' +
      '(Apache-2.0). Do not edit by hand: rerun the script. The strict reading (unknown field = error) is explained at the top of the script.\n\n' +
      sources,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) main();
