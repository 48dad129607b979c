// Puts V8's code cache into dist/knative-events.cjs: the file becomes build/code-cache-loader.cjs followed by the
// bundle's code and its cache in two comments, and the loader compiles the one with the other (why comments, and
// when V8 declines the cache: see the loader). The cache is made by build/code-cache-warm.cjs in its own process,
// with this Node, so it fits the Node that builds the image and the single executable. Still one file, run as
// before.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
/** CommonJS's own module wrapper, on the line the bundle's shebang had, so every other line keeps its number. */
const wrapperHead = '(function (exports, require, module, __filename, __dirname) {';
/** How a `*` `/` of the code is written inside its comment (the loader turns it back). */
const commentEnd = '*/';
const commentEndWritten = '*\u0001/';
const layoutPlaceholder = '/* layout */ {}';
/**
 * Node's EXTERN_APEX + 1: a string made from a buffer at least this long is external, outside V8's heap. The code
 * is padded with spaces to this length (why: the loader's unescapedText). The cache's text is not: it is
 * garbage once decoded, and as a young heap string it goes at the next scavenge.
 */
const externalMinimum = 0xfbee9 + 1;
const padded = (/** @type {string} */ text) => text.padEnd(externalMinimum, ' ');

/**
 * The loader with its layout filled in, followed by the two comments the layout points at.
 * @param {string} moduleSource the code as compiled (padded already: the cache is made for it)
 * @param {string} cacheBase64 @param {string} madeBy
 */
function assembleFile(moduleSource, cacheBase64, madeBy) {
  // eslint-disable-next-line no-control-regex -- the check is for anything outside ASCII
  if (/[^\x00-\x7f]/.test(moduleSource))
    throw new Error('the bundle holds non-ASCII characters: the loader reads it as latin1');
  if (moduleSource.includes(commentEndWritten))
    throw new Error('the bundle holds the sequence the loader uses to write "*/" in a comment');
  const code = moduleSource.replaceAll(commentEnd, commentEndWritten);
  const cache = cacheBase64;
  // The file ends with `/*<code>*/\n/*<cache>*/\n`: offsets from the end do not depend on the loader's own size.
  const tail = `/*${code}*/\n/*${cache}*/\n`;
  const layout = {
    code: [tail.length - 2, code.length, moduleSource.length],
    cache: [cache.length + 3, cache.length, cacheBase64.length],
    madeBy,
  };
  const loader = readFileSync(join(here, 'code-cache-loader.cjs'), 'utf8');
  if (loader.split(layoutPlaceholder).length !== 2)
    throw new Error(`code-cache-loader.cjs: expected one ${layoutPlaceholder}`);
  return `#!/usr/bin/env node\n${loader.replace(layoutPlaceholder, () => JSON.stringify(layout))}${tail}`;
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
  const moduleSource = padded(`${wrapperHead}${bundle.slice(bundle.indexOf('\n'))}\n})`);
  const cache = makeCodeCache(moduleSource, bundleFile);
  const partial = `${bundleFile}.partial`;
  writeFileSync(partial, assembleFile(moduleSource, cache.toString('base64'), `${process.version} ${process.arch}`), {
    mode: 0o755,
  });
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
  const bytes = readFileSync(bundleFile);
  // latin1: one character per byte, as the loader counts its offsets (the parts are ASCII).
  const text = bytes.toString('latin1');
  const line = /^const layout = (\{.*\});$/m.exec(text);
  if (!line) return bytes.toString('utf8');
  const [fromEnd, length] = JSON.parse(line[1]).code;
  const start = text.length - fromEnd;
  const moduleSource = text
    .slice(start, start + length)
    .replaceAll(commentEndWritten, commentEnd)
    .trimEnd();
  if (!moduleSource.startsWith(wrapperHead) || !moduleSource.endsWith('\n})'))
    throw new Error(`${bundleFile}: the embedded source is not a wrapped module`);
  return `#!/usr/bin/env node${moduleSource.slice(wrapperHead.length, -'\n})'.length)}`;
}

/**
 * The code (as compiled, padded) and the cache's bytes of a bundle with a code cache, for the single executable
 * (build/sea-loader.cjs); undefined for a bundle built with --no-code-cache.
 * @param {string} bundleFile
 * @returns {{ code: string, cache: Buffer } | undefined}
 */
export function embeddedParts(bundleFile) {
  const text = readFileSync(bundleFile).toString('latin1');
  const line = /^const layout = (\{.*\});$/m.exec(text);
  if (!line) return undefined;
  const layout = JSON.parse(line[1]);
  const part = (/** @type {[number, number, number]} */ [fromEnd, length]) =>
    text.slice(text.length - fromEnd, text.length - fromEnd + length);
  const code = part(layout.code).replaceAll(commentEndWritten, commentEnd);
  const cache = Buffer.from(part(layout.cache).slice(0, layout.cache[2]), 'base64');
  if (code.length !== layout.code[2] || cache.length === 0) throw new Error(`${bundleFile}: its layout is wrong`);
  return { code, cache };
}
