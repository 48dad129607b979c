// The chart's value documentation, generated from one source: the `## @param` / `## @extra` lines of chart/values.yaml.
//
//   npm run docs:chart      rewrites the "Parameters" tables of chart/README.md and the descriptions in
//                           chart/values.schema.json
//
// The tables come from @bitnami/readme-generator-for-helm (pinned in package.json), run as its CLI would run it.
// Its schema output (-s) is not used: it writes a whole new schema from values.yaml with types and defaults only,
// which would drop what makes values.schema.json strict (additionalProperties: false, enums, patterns, required,
// the $ref'd definitions of services.<name>, triggers.<name>, ...). Instead the tool's own parser reads the same
// comments, and each description is set on the matching property of the hand-written schema, nothing else touched.
// test/chart/docs.test.ts runs this into temporary copies and fails when the checked-in files differ.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const CHART = fileURLToPath(new URL('../chart/', import.meta.url));
export const VALUES = join(CHART, 'values.yaml');
export const README = join(CHART, 'README.md');
export const SCHEMA = join(CHART, 'values.schema.json');

/** Runs `fn` with the tool's progress lines (console.log) silenced; its errors still throw. */
function quietly(fn) {
  const log = console.log;
  console.log = () => {};
  try {
    return fn();
  } finally {
    console.log = log;
  }
}

/** README.md with its "Parameters" section regenerated from the values file. */
export function generateReadme(valuesPath = VALUES, readmeText = readFileSync(README, 'utf8')) {
  const { runReadmeGenerator } = require('@bitnami/readme-generator-for-helm');
  const dir = mkdtempSync(join(tmpdir(), 'chart-docs-'));
  try {
    const copy = join(dir, 'README.md');
    writeFileSync(copy, readmeText);
    quietly(() => runReadmeGenerator({ values: valuesPath, readme: copy }));
    return readFileSync(copy, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every documented path → its description. Map keys (`<name>`, `<file>`) become `*`. */
export function descriptions(valuesPath = VALUES) {
  const config = require('@bitnami/readme-generator-for-helm/config.json');
  const { parseMetadataComments } = require('@bitnami/readme-generator-for-helm/lib/parser');
  const metadata = quietly(() => parseMetadataComments(valuesPath, config));
  const out = new Map();
  for (const p of metadata.parameters) {
    if (!p.name || p.skip || !p.description) continue;
    out.set(p.name.replace(/<[a-z]+>/g, '*'), plain(p.description));
  }
  return out;
}

/** Markdown that reads badly in an editor's tooltip: links become their text, bold becomes plain. */
function plain(markdown) {
  return markdown.replace(/\[([^\]]+)\]\(#[^)]+\)/g, '$1 (chart/README.md)').replace(/\*\*([^*]+)\*\*/g, '$1');
}

/**
 * The schema with `description` set from `docs` on every property whose value path is documented. A property that
 * is a $ref gets it beside the $ref; a definition's own properties take the description of the first documented
 * path that reaches them (root `image.*` before `services.*.image.*`).
 */
export function describeSchema(schema, docs) {
  const out = structuredClone(schema);
  const described = new WeakSet();
  const walk = (node, path, refs) => {
    if (!node || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') {
      const name = node.$ref.split('/').pop();
      if (!refs.includes(name)) walk(out.definitions[name], path, [...refs, name]);
      return;
    }
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const at = path ? `${path}.${key}` : key;
      const text = docs.get(at);
      if (text !== undefined && !described.has(child)) {
        child.description = text;
        described.add(child);
      }
      walk(child, at, refs);
    }
    if (node.additionalProperties && typeof node.additionalProperties === 'object')
      walk(node.additionalProperties, `${path}.*`, refs);
  };
  walk(out, '', []);
  return out;
}

export function generateSchema(valuesPath = VALUES, schemaText = readFileSync(SCHEMA, 'utf8')) {
  return `${JSON.stringify(describeSchema(JSON.parse(schemaText), descriptions(valuesPath)), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(README, generateReadme());
  writeFileSync(SCHEMA, generateSchema());
  console.log(
    'chart/README.md (Parameters) and chart/values.schema.json (descriptions) regenerated from chart/values.yaml',
  );
}
