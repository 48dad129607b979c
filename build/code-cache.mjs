// Puts V8's code cache next to dist/knative-events.cjs: the file becomes build/code-cache-loader.cjs, and the
// bundle's code and its cache go into dist/knative-events.code, which the loader reads and compiles the one with
// the other (why two files, and when V8 declines the cache: see the loader). The cache is made by
// build/code-cache-warm.cjs in its own process, with this Node, so it fits the Node that builds the image and the
// single executable. Copy both files together: the loader checks that the payload is its own build's.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractDeferred, inlineDeferred } from './deferred-sources.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
/** CommonJS's own module wrapper, on the line the bundle's shebang had, so every other line keeps its number. */
const wrapperHead = '(function (exports, require, module, __filename, __dirname) {';
const layoutPlaceholder = '/* layout */ {}';
/** The loader's layout line, as the build writes it. */
const layoutLine = /^const layout = (\{.*\});$/m;
/** The payload file of a loader file (the loader finds it the same way). */
export const payloadFileOf = (/** @type {string} */ bundleFile) => `${bundleFile.replace(/\.c?js$/, '')}.code`;

/**
 * The loader with its layout filled in, and the payload it reads: code, cache, the deferred packages' sources
 * (deferred-sources.mjs), the build's id. The layout gives each deferred source's [offset, length].
 * @param {string} moduleSource the code as compiled (the cache is made for it)
 * @param {Buffer} cache @param {Record<string, string>} deferred @param {string} madeBy
 */
function assembleFiles(moduleSource, cache, deferred, madeBy) {
  const code = Buffer.from(moduleSource, 'latin1');
  const sources = Object.values(deferred).map((literal) => Buffer.from(literal, 'latin1'));
  const hash = createHash('sha256').update(code).update(cache);
  for (const source of sources) hash.update(source);
  const id = hash.digest('hex').slice(0, 16);
  let offset = code.length + cache.length;
  /** @type {Record<string, [number, number]>} */
  const deferredAt = {};
  Object.keys(deferred).forEach((name, i) => {
    const length = sources[i]?.length ?? 0;
    deferredAt[name] = [offset, length];
    offset += length;
  });
  const layout = { code: code.length, cache: cache.length, deferred: deferredAt, id, madeBy };
  const loader = readFileSync(join(here, 'code-cache-loader.cjs'), 'utf8');
  if (loader.split(layoutPlaceholder).length !== 2)
    throw new Error(`code-cache-loader.cjs: expected one ${layoutPlaceholder}`);
  return {
    loader: `#!/usr/bin/env node\n${loader.replace(layoutPlaceholder, () => JSON.stringify(layout))}`,
    payload: Buffer.concat([code, cache, ...sources, Buffer.from(id, 'latin1')]),
  };
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
 * Rewrites the esbuild bundle at `bundleFile` (which starts with a shebang line) as the loader, and writes the
 * payload next to it (the payload first: a loader is never there without its payload).
 * @param {string} bundleFile
 * @returns {{ cacheBytes: number, deferredBytes: number, payloadFile: string }}
 */
export function embedCodeCache(bundleFile) {
  const bundle = readFileSync(bundleFile, 'utf8');
  if (!bundle.startsWith('#!')) throw new Error(`${bundleFile}: expected the bundle's shebang line first`);
  // eslint-disable-next-line no-control-regex -- the check is for anything outside ASCII
  if (/[^\x00-\x7f]/.test(bundle)) throw new Error('the bundle holds non-ASCII characters: the loader reads latin1');
  const { code, deferred } = extractDeferred(`${wrapperHead}${bundle.slice(bundle.indexOf('\n'))}\n})`);
  const cache = makeCodeCache(code, bundleFile);
  const { loader, payload } = assembleFiles(code, cache, deferred, `${process.version} ${process.arch}`);
  const payloadFile = payloadFileOf(bundleFile);
  writeFileSync(`${payloadFile}.partial`, payload, { mode: 0o644 });
  renameSync(`${payloadFile}.partial`, payloadFile);
  writeFileSync(`${bundleFile}.partial`, loader, { mode: 0o755 });
  renameSync(`${bundleFile}.partial`, bundleFile);
  const deferredBytes = Object.values(deferred).reduce((sum, literal) => sum + literal.length, 0);
  return { cacheBytes: cache.length, deferredBytes, payloadFile };
}

/** A payload left by an earlier build, removed when the build writes a plain bundle (--no-code-cache). */
export function removePayload(/** @type {string} */ bundleFile) {
  rmSync(payloadFileOf(bundleFile), { force: true });
}

/**
 * The code (as compiled), the cache's bytes and the deferred packages' sources (as literals) of a bundle with a
 * code cache, read from its payload; the single executable takes them as its assets (build/sea-loader.cjs).
 * Undefined for a plain bundle (built with --no-code-cache, or esbuild's output).
 * @param {string} bundleFile
 * @returns {{ code: string, cache: Buffer, deferred: Record<string, string> } | undefined}
 */
export function embeddedParts(bundleFile) {
  const line = layoutLine.exec(readFileSync(bundleFile, 'latin1'));
  if (!line) return undefined;
  /** @type {{ code: number, cache: number, deferred: Record<string, [number, number]>, id: string }} */
  const layout = JSON.parse(line[1]);
  const payload = readFileSync(payloadFileOf(bundleFile));
  const deferredBytes = Object.values(layout.deferred).reduce((sum, [, length]) => sum + length, 0);
  const size = layout.code + layout.cache + deferredBytes + layout.id.length;
  if (payload.length !== size || !payload.toString('latin1').endsWith(layout.id))
    throw new Error(`${payloadFileOf(bundleFile)} is not the payload of ${bundleFile}`);
  const code = payload.toString('latin1', 0, layout.code);
  if (!code.startsWith(wrapperHead) || !code.endsWith('\n})'))
    throw new Error(`${bundleFile}: the payload's code is not a wrapped module`);
  const deferred = Object.fromEntries(
    Object.entries(layout.deferred).map(([name, [at, length]]) => [name, payload.toString('latin1', at, at + length)]),
  );
  return { code, cache: payload.subarray(layout.code, layout.code + layout.cache), deferred };
}

/**
 * esbuild's output back from dist/knative-events.cjs, whichever form it has: the single executable built with
 * --no-code-cache embeds this as its main script with Node's own code cache.
 * @param {string} bundleFile
 */
export function plainBundle(bundleFile) {
  const parts = embeddedParts(bundleFile);
  if (!parts) return readFileSync(bundleFile, 'utf8');
  const code = inlineDeferred(parts.code, parts.deferred);
  return `#!/usr/bin/env node${code.slice(wrapperHead.length, -'\n})'.length)}`;
}

/** Copies the bundle at `from` to `to` with its payload, if it has one (a saved `before` for the benchmarks). */
export function copyBundle(/** @type {string} */ from, /** @type {string} */ to) {
  const payload = payloadFileOf(from);
  if (existsSync(payload)) writeFileSync(payloadFileOf(to), readFileSync(payload));
  writeFileSync(to, readFileSync(from), { mode: 0o755 });
}
