// chart/README.md documents every value the schema accepts, its Parameters tables and the schema's descriptions are
// generated from values.yaml and up to date; the CRD schema extractor reads CRDs strictly.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { README, SCHEMA, VALUES, generateReadme, generateSchema } from '../../build/chart-docs.mjs';
import { crdToSchemas } from '../../build/extract-crd-schemas.mjs';
import { CHART_DIR } from './helm.js';

interface Node {
  $ref?: string;
  properties?: Record<string, Node>;
}
const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Node & { definitions: Record<string, Node> };
const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');

function keys(node: Node, prefix: string, seen: Set<string>, out: string[]): void {
  const n = node.$ref ? schema.definitions[node.$ref.split('/').pop() ?? ''] : node;
  if (!n?.properties) return;
  if (node.$ref) {
    if (seen.has(node.$ref)) return;
    seen.add(node.$ref);
  }
  for (const [k, v] of Object.entries(n.properties)) {
    out.push(prefix ? `${prefix}.${k}` : k);
    keys(v, prefix ? `${prefix}.${k}` : k, seen, out);
  }
}

describe('chart/README.md', () => {
  it('mentions every key of values.schema.json', () => {
    const all: string[] = [];
    keys(schema, '', new Set(), all);
    for (const def of ['service', 'trigger', 'pingSource', 'kafkaSink', 'destination', 'delivery']) keys({ $ref: `#/definitions/${def}` }, def, new Set(), all);
    assert.ok(all.length > 100);
    // each key appears as code: `key`, `a.key`, `key.x` or in a list like `a`, `key`
    const missing = all.filter((p) => {
      const k = (p.split('.').pop() ?? p).replace(/[$]/g, '\\$');
      return !new RegExp(`[\`.]${k}[\`.,]|\`${k} `).test(readme);
    });
    assert.deepEqual(missing, []);
  });
});

describe('generated value docs (npm run docs:chart)', () => {
  it("chart/README.md's Parameters tables are what values.yaml's ## @param lines generate", () => {
    assert.equal(readFileSync(README, 'utf8'), generateReadme(), 'chart/README.md is out of date: run `npm run docs:chart`');
  });
  it("values.schema.json's descriptions are what values.yaml's ## @param lines generate", () => {
    assert.equal(readFileSync(SCHEMA, 'utf8'), generateSchema(), 'chart/values.schema.json is out of date: run `npm run docs:chart`');
  });
  it('an edited @param line changes both (the checks above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chart-docs-test-'));
    try {
      const edited = join(dir, 'values.yaml');
      const text = readFileSync(VALUES, 'utf8');
      assert.match(text, /## @param image\.tag Tag;/);
      writeFileSync(edited, text.replace('## @param image.tag Tag;', '## @param image.tag The tag;'));
      const readme = generateReadme(edited);
      assert.match(readme, /\| `image\.tag` +\| The tag;/);
      assert.notEqual(readme, readFileSync(README, 'utf8'));
      const tagDescription = (JSON.parse(generateSchema(edited)) as { definitions: { image: { properties: { tag: { description: string } } } } }).definitions.image.properties.tag.description;
      assert.match(tagDescription, /^The tag;/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('build/extract-crd-schemas.mjs', () => {
  const crd = {
    kind: 'CustomResourceDefinition',
    spec: {
      group: 'example.dev',
      names: { kind: 'Widget' },
      versions: [
        { name: 'v1alpha1', served: false },
        {
          name: 'v1',
          served: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  description: 'dropped',
                  properties: {
                    size: { type: 'integer', format: 'int32' },
                    port: { 'x-kubernetes-int-or-string': true },
                    servers: { type: 'array', minLength: 1, items: { type: 'string' } },
                    free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } } },
                  },
                },
                status: { type: 'object' },
              },
            },
          },
        },
      ],
    },
  };
  it('makes objects strict, keeps preserve-unknown-fields open, adds apiVersion/kind/metadata', () => {
    const out = crdToSchemas(crd);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.file, 'Widget.example.dev_v1.json');
    const s = out[0]?.schema as { additionalProperties: boolean; required: string[]; properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean; const?: string }> };
    assert.equal(s.additionalProperties, false);
    assert.deepEqual(s.required, ['apiVersion', 'kind', 'metadata']);
    assert.equal(s.properties.apiVersion?.const, 'example.dev/v1');
    assert.equal(s.properties.status, undefined);
    const spec = s.properties.spec;
    assert.equal(spec?.additionalProperties, false);
    assert.deepEqual(spec?.properties?.size, { type: 'integer', minimum: -2147483648, maximum: 2147483647 });
    assert.deepEqual(spec?.properties?.port, { type: ['integer', 'string'] });
    assert.deepEqual(spec?.properties?.servers, { type: 'array', minItems: 1, items: { type: 'string' } });
    assert.deepEqual(spec?.properties?.free, { type: 'object', properties: { a: { type: 'string' } } });
  });
});
