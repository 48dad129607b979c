// Bundles the runtime and every function into one self-contained CommonJS file, dist/knative-events.cjs,
// that needs no node_modules at run time. The function registry is regenerated first so a new folder in
// functions/ is always bundled. The file then becomes a loader of its code and V8's code cache for it, both in
// dist/knative-events.code (build/code-cache.mjs); `--no-code-cache` leaves esbuild's output as it is, so that
// gain stays measurable.
//
//   node build/build.mjs [--no-code-cache] [--analyze] [--outfile <file.cjs>]
//
// --outfile writes a variant elsewhere (its payload and licence list beside it), to weigh against dist's with
// bench/start-figures.mjs --also, without replacing the bundle other work is using.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleConfig } from './bundle-config.mjs';
import { embedCodeCache, removePayload } from './code-cache.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, ['build/gen-functions.mjs'], { cwd: root, stdio: 'inherit' });

const { values: args } = parseArgs({
  options: {
    'no-code-cache': { type: 'boolean', default: false },
    analyze: { type: 'boolean', default: false },
    outfile: { type: 'string', default: `${root}dist/knative-events.cjs` },
  },
});
const outfile = resolve(String(args.outfile));

const { options, separateInputs } = await bundleConfig(root);
const result = await build({
  ...options,
  outfile,
  // Whitespace and syntax minified, identifiers not, and no keepNames: keepNames wraps every function the bundle
  // creates in esbuild's __name(), a defineProperty that makes the function a dictionary-mode object, ≈ 4,000
  // instructions for each closure made per request (≈ 50k a subscriber request, 14%; bench/instructions.mjs).
  // With identifiers kept, V8 names functions and classes from the source itself, so stack traces and logged
  // errors stay readable; a name esbuild had to make unique reads `name2` (runtime/http/errors.ts keeps
  // HttpError's). Start-up: 2% fewer instructions (no __name calls at load) for 170 KiB more code.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
const { thirdPartyLicenses } = await import('./licenses.mjs');
const licenses = thirdPartyLicenses({ inputs: { ...result.metafile.inputs, ...separateInputs } }, root);
writeFileSync(`${dirname(outfile)}/THIRD_PARTY_LICENSES.md`, licenses.markdown);
const codeBytes = statSync(outfile).size;
const noCodeCache = args['no-code-cache'];
if (noCodeCache) removePayload(outfile);
const cache = noCodeCache ? undefined : embedCodeCache(outfile);
const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
console.log(
  `${relative(root, outfile)}: ${kib(codeBytes)} of code${cache ? ` (${kib(cache.deferredBytes)} of it node-vault and pg, read when first used) + ${kib(cache.cacheBytes)} of V8 code cache, in ${relative(root, cache.payloadFile)}` : ', no code cache'}, ${licenses.packages.length} third-party packages (THIRD_PARTY_LICENSES.md beside it)`,
);
if (args.analyze) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}
