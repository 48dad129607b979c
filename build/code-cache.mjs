// Puts V8's code cache into dist/knative-events.cjs: the file becomes build/code-cache-loader.cjs with the
// bundle's code and its cache as strings, and compiles the one with the other (why and when V8 declines the
// cache: see the loader). The cache is made by build/code-cache-warm.cjs in its own process, with this Node, so
// it fits the Node that builds the image and the single executable. Still one file, run as before.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
/** CommonJS's own module wrapper, on the line the bundle's shebang had, so every other line keeps its number. */
const wrapperHead = '(function (exports, require, module, __filename, __dirname) {';

/**
 * The loader with its three constants filled in.
 * @param {Record<string, string>} values marker → the string it stands for
 */
function fillLoader(values) {
  let loader = readFileSync(join(here, 'code-cache-loader.cjs'), 'utf8');
  for (const [marker, value] of Object.entries(values)) {
    const placeholder = `/* ${marker} */ ''`;
    if (loader.split(placeholder).length !== 2) throw new Error(`code-cache-loader.cjs: expected one ${placeholder}`);
    loader = loader.replace(placeholder, () => JSON.stringify(value));
  }
  return loader;
}

/**
 * Runs the module source through the roles' first requests in a child process and returns V8's cache for it.
 * The cache keeps the file name it was made under (V8 names the script from it, in stack traces too), so the
 * source is compiled there under the bundle's own path.
 * @param {string} moduleSource
 * @param {string} bundleFile
 */
function makeCodeCache(moduleSource, bundleFile) {
  const work = mkdtempSync(join(tmpdir(), 'knative-events-code-cache-'));
  try {
    const sourceFile = join(work, 'module.cjs');
    const cacheFile = join(work, 'module.cache');
    writeFileSync(sourceFile, moduleSource);
    execFileSync(process.execPath, [join(here, 'code-cache-warm.cjs'), sourceFile, cacheFile, bundleFile], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    });
    return readFileSync(cacheFile);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Rewrites the esbuild bundle at `bundleFile` (which starts with a shebang line) as loader + code + cache.
 * @param {string} bundleFile
 * @returns {{ cacheBytes: number }}
 */
export function embedCodeCache(bundleFile) {
  const bundle = readFileSync(bundleFile, 'utf8');
  if (!bundle.startsWith('#!')) throw new Error(`${bundleFile}: expected the bundle's shebang line first`);
  const moduleSource = `${wrapperHead}${bundle.slice(bundle.indexOf('\n'))}\n})`;
  const cache = makeCodeCache(moduleSource, bundleFile);
  const loader = fillLoader({
    'bundle source': moduleSource,
    'code cache': cache.toString('base64'),
    'cache maker': `${process.version} ${process.arch}`,
  });
  const partial = `${bundleFile}.partial`;
  writeFileSync(partial, `#!/usr/bin/env node\n${loader}`, { mode: 0o755 });
  renameSync(partial, bundleFile);
  return { cacheBytes: cache.length };
}

/**
 * esbuild's output back from dist/knative-events.cjs, whichever form it has: the single executable takes this
 * and its own code cache (Node's useCodeCache). Run through the loader, its process would carry ~15 MiB more
 * RSS at idle (measured: 69 against 52 MiB) for a start that is no quicker than with Node's cache.
 * @param {string} bundleFile
 */
export function plainBundle(bundleFile) {
  const text = readFileSync(bundleFile, 'utf8');
  const line = /^const source = (".*");$/m.exec(text);
  if (!line) return text;
  const moduleSource = JSON.parse(line[1]);
  if (!moduleSource.startsWith(wrapperHead) || !moduleSource.endsWith('\n})'))
    throw new Error(`${bundleFile}: the embedded source is not a wrapped module`);
  return `#!/usr/bin/env node${moduleSource.slice(wrapperHead.length, -'\n})'.length)}`;
}
