// What makes dist/knative-events.cjs what it is: the entry point, the target and the plugins that keep it
// small and quick to start. Shared by build/build.mjs (the product) and bench/start-cost.mjs (an
// instrumented copy), so the benchmark measures the same bundle that ships.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { embedDlqConsole } from './dlq-console-plugin.mjs';
import { koaOnFinished } from './koa-on-finished-plugin.mjs';
import { applyLazyRequires, lazyRequiresPlugin } from './lazy-requires-plugin.mjs';
import { uriReferencePlugin } from './uri-reference-plugin.mjs';

/**
 * Koa's dependencies pin two versions of mime-db (~140 KiB of JSON each), parsed on every start (~17 ms of
 * module loading with mime-types) and kept in memory. Koa here only ever looks up the types it picks itself
 * for a body (object → json, string → text or html, Buffer/stream → bin) and type-is' shorthands
 * (urlencoded, multipart); the runtime never sets ctx.type or negotiates with accepts, and
 * application/cloudevents+json is not in mime-db at all (it passes through as a full type). So the bundle
 * gets those entries only, copied at build time from the real mime-db so their charset and extensions are
 * exactly mime-db's. Served under mime-db's own path, so its MIT notice stays in the licence list.
 * @param {string} root
 * @returns {import('esbuild').Plugin}
 */
function mimeDbSubset(root) {
  const mimeDbPath = `${root}node_modules/mime-db/index.js`;
  const mimeTypesKept = [
    'application/json',
    'text/plain',
    'text/html',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
  ];
  return {
    name: 'mime-db-subset',
    setup(b) {
      b.onResolve({ filter: /^mime-db$/ }, () => ({ path: mimeDbPath }));
      b.onLoad({ filter: /[\\/]mime-db[\\/]index\.js$/ }, () => {
        const db = JSON.parse(readFileSync(`${root}node_modules/mime-db/db.json`, 'utf8'));
        const subset = Object.fromEntries(mimeTypesKept.map((type) => [type, db[type]]));
        if (Object.values(subset).some((entry) => entry === undefined))
          throw new Error('mime-db lacks a type the bundle keeps');
        return { contents: `module.exports = ${JSON.stringify(subset)};`, loader: 'js' };
      });
    },
  };
}

/**
 * Packages only some processes need: node-vault (with axios, form-data, tv4 and friends: ~300 KiB) only in
 * Vault direct mode, pg (~85 KiB) only for the dlq's PostgreSQL store. Bundled normally, V8 would pre-parse
 * every byte of them on every start of every role (≈ 8 ms for node-vault). Each is bundled on its own and
 * kept as a string, compiled only when first imported; with the code cache, the string is moved out of the code
 * into the payload and read only then (build/deferred-sources.mjs, which finds it by this stand-in's shape).
 * @param {string} root
 * @returns {Promise<{ plugin: import('esbuild').Plugin, inputs: Record<string, unknown> }>}
 */
async function deferredPackages(root) {
  /** @type {Record<string, import('esbuild').BuildResult<{ write: false, metafile: true }>>} */
  const built = {};
  for (const name of ['node-vault', 'pg']) {
    built[name] = await build({
      stdin: {
        contents: `module.exports = require('${name}');`,
        resolveDir: root,
        loader: 'js',
        sourcefile: `${name}-entry.js`,
      },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      write: false,
      metafile: true,
      logLevel: 'warning',
      // pg's optional native binding and its Cloudflare Workers socket are never used on Node.
      external: ['pg-native', 'pg-cloudflare', 'cloudflare:sockets'],
    });
  }
  /** @type {import('esbuild').Plugin} */
  const plugin = {
    name: 'deferred-packages',
    setup(b) {
      b.onResolve({ filter: /^(node-vault|pg)$/ }, (args) => ({ path: args.path, namespace: 'deferred' }));
      b.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => ({
        loader: 'js',
        contents: `const source = ${JSON.stringify(built[args.path]?.outputFiles[0]?.text)};
  const loaded = { exports: {} };
  require('node:vm').runInThisContext('(function (module, exports, require) {' + source + '\\n})', { filename: '${args.path}.bundled.js' })(loaded, loaded.exports, require);
  module.exports = loaded.exports;`,
      }));
    },
  };
  return { plugin, inputs: Object.assign({}, ...Object.values(built).map((d) => d.metafile.inputs)) };
}

/**
 * Koa 3 checks every body with `instanceof Response`; reading Node 20's global `Response` the first time loads
 * its internal fetch implementation (undici, ≈ 15-19 ms) during the first request of every process. Until
 * something else has loaded it, no Response can have been made with the global class, so the check asks
 * the global's property descriptor first and reads `Response` only once it has been resolved.
 * @type {import('esbuild').Plugin}
 */
const koaWithoutEagerFetch = {
  name: 'koa-without-eager-fetch',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]koa[\\/]lib[\\/](response|application)\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const patched = source.replaceAll(
        /(\w+(?:\?\.\w+)*) instanceof Response\b/g,
        '(globalResponseLoaded() && $1 instanceof Response)',
      );
      if (patched === source)
        throw new Error(
          `${args.path}: no "instanceof Response" left to patch; review the koa-without-eager-fetch plugin`,
        );
      const helper =
        "const globalResponseLoaded = () => 'value' in (Object.getOwnPropertyDescriptor(globalThis, 'Response') ?? {});\n";
      // response.js also has its assert made lazy (build/lazy-requires-plugin.mjs): one onLoad per file.
      return { contents: applyLazyRequires(args.path, helper + patched), loader: 'js' };
    });
  },
};

/**
 * The plugins that change what a start loads and runs in the packages every role uses (Koa and its
 * dependencies, pino, the CloudEvents SDK), not what the runtime itself is made of. bench/compare.mjs bundles
 * its plain Koa echo with these too, so the limit it shows is what Koa costs with the same help.
 * @param {string} root the repository root, ending in /
 * @returns {import('esbuild').Plugin[]}
 */
export function startUpPlugins(root) {
  return [mimeDbSubset(root), koaWithoutEagerFetch, koaOnFinished, lazyRequiresPlugin, uriReferencePlugin];
}

/**
 * esbuild options for the runtime bundle, and the metafile inputs bundled apart (for the licence list).
 * @param {string} root the repository root, ending in /
 */
export async function bundleConfig(root) {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  const deferred = await deferredPackages(root);
  return {
    options: {
      plugins: [deferred.plugin, ...startUpPlugins(root), embedDlqConsole],
      entryPoints: [`${root}runtime/main.ts`],
      // The global `performance` read from process.hrtime: reading Node's loads node:perf_hooks (see the file).
      inject: [`${root}build/hrtime-performance.mjs`],
      bundle: true,
      platform: /** @type {const} */ ('node'),
      target: 'node20',
      format: /** @type {const} */ ('cjs'),
      define: { 'process.env.npm_package_version': JSON.stringify(pkg.version) },
    },
    separateInputs: deferred.inputs,
  };
}
