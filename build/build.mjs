// Bundles the runtime and every function into one self-contained CommonJS file, dist/knative-events.cjs,
// that needs no node_modules at run time. The function registry is regenerated first so a new folder in
// functions/ is always bundled.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, ['build/gen-functions.mjs'], { cwd: root, stdio: 'inherit' });

const pkg = JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outfile = `${root}dist/knative-events.cjs`;

// Koa's dependencies pin two versions of mime-db (~140 KiB of JSON each); one copy serves both.
const dedupeMimeDb = {
  name: 'dedupe-mime-db',
  setup(b) {
    b.onResolve({ filter: /^mime-db$/ }, () => ({ path: `${root}node_modules/mime-db/index.js` }));
  },
};

const result = await build({
  plugins: [dedupeMimeDb],
  entryPoints: [`${root}runtime/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  define: { 'process.env.npm_package_version': JSON.stringify(pkg.version) },
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
const { thirdPartyLicenses } = await import('./licenses.mjs');
const licenses = thirdPartyLicenses(result.metafile, root);
writeFileSync(`${root}dist/THIRD_PARTY_LICENSES.md`, licenses.markdown);
const bytes = statSync(outfile).size;
console.log(`dist/knative-events.cjs: ${(bytes / 1024).toFixed(0)} KiB, ${licenses.packages.length} third-party packages (dist/THIRD_PARTY_LICENSES.md)`);
if (process.argv.includes('--analyze')) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}
