// Why the runtime records and exports spans with its own code (runtime/tracing/) rather than the official
// OpenTelemetry JS SDK: what each costs a process that turns tracing on, side by side with the runtime bundle.
// Both are bundled the way the product is (esbuild, minified, node20) and timed in fresh processes: require()
// of the bundle, then creating a tracer with a batch processor and an OTLP/HTTP protobuf exporter, then
// ending one span. The official packages are bench dependencies only (bench/package.json).
//
//   npm ci --prefix bench && npm run build && node bench/tracing-sdk-choice.mjs [--runs 15]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { median } from './lib/stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.argv.includes('--runs') ? process.argv[process.argv.indexOf('--runs') + 1] : 15);
const dir = mkdtempSync(join(tmpdir(), 'tracing-choice-'));
/** @type {import('esbuild').BuildOptions} */
const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
};

// The official SDK set up as the runtime would need it: sampler, batch processor, OTLP/HTTP protobuf exporter, resource.
const officialEntry = join(dir, 'official-entry.cjs');
writeFileSync(
  officialEntry,
  `const { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
module.exports = async function setup(url) {
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench' }), sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }), spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))] });
  new W3CTraceContextPropagator();
  provider.getTracer('knative-events').startSpan('bench').end();
  return provider;
};
`,
);
const ownEntry = join(dir, 'own-entry.mjs');
writeFileSync(
  ownEntry,
  `import { createTracing } from ${JSON.stringify(`${root}runtime/tracing/sdk.ts`)};
export default async function setup(url) {
  const tracing = await createTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url }, { log: { warn() {}, info() {} }, service: 'bench', role: 'subscriber' });
  tracing.startSpan('bench').end();
  return tracing;
}
`,
);
const official = join(dir, 'official.cjs');
const own = join(dir, 'own.cjs');
await build({
  ...bundleOptions,
  entryPoints: [officialEntry],
  outfile: official,
  nodePaths: [`${root}bench/node_modules`],
});
// prom-client is the runtime's own (already in its bundle); the tracing metrics module loads only with metrics on.
await build({ ...bundleOptions, entryPoints: [ownEntry], outfile: own, external: ['prom-client'] });

const probe = (file) => `
const t0 = performance.now();
const mod = require(${JSON.stringify(file)});
const setup = mod.default ?? mod;
const t1 = performance.now();
Promise.resolve(setup('http://127.0.0.1:9/v1/traces')).then(() => {
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ load: t1 - t0, setup: t2 - t1, rss: process.memoryUsage().rss }));
  process.exit(0);
});`;
const time = (file) => {
  const samples = [];
  for (let i = 0; i < runs; i++)
    samples.push(JSON.parse(execFileSync(process.execPath, ['-e', probe(file)], { encoding: 'utf8' })));
  return {
    load: median(samples.map((s) => s.load)),
    setup: median(samples.map((s) => s.setup)),
    rss: median(samples.map((s) => s.rss)) / 2 ** 20,
  };
};
const empty = join(dir, 'empty.cjs');
writeFileSync(empty, 'module.exports = async () => {};');
const base = time(empty);
const product = statSync(`${root}dist/knative-events.cjs`).size;
const rows = [
  ['', 'own (runtime/tracing)', 'official @opentelemetry SDK'],
  ['bundle bytes', statSync(own).size, statSync(official).size],
  ['÷ runtime bundle', statSync(own).size / product, statSync(official).size / product],
  ['require ms (median)', time(own).load, time(official).load],
];
const o = time(own);
const f = time(official);
rows.push(
  ['tracer set-up + first span ms', o.setup, f.setup],
  ['RSS MiB above an empty process', o.rss - base.rss, f.rss - base.rss],
);
const fmt = (v) =>
  typeof v === 'number'
    ? v < 1 && v > 0
      ? `${(v * 100).toFixed(1)}%`
      : v >= 1000
        ? v.toLocaleString('en-US', { maximumFractionDigits: 0 })
        : v.toFixed(1)
    : v;
console.log(
  `runtime bundle (dist/knative-events.cjs): ${product.toLocaleString('en-US')} bytes; ${runs} fresh processes each\n`,
);
console.log(`| ${rows[0].join(' | ')} |\n| --- | --- | --- |`);
for (const row of rows.slice(1)) console.log(`| ${row.map(fmt).join(' | ')} |`);
