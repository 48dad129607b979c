// Runs a TypeScript entry point of local/ (`npm start`, `npm run send`, `npm run dlq`, `npm run trace`) as plain
// `node`, from one esbuild bundle of it kept under .tools/cache/launch/:
//
//   node build/launch.mjs local/send.ts [args...]
//
// Why: through `node --import tsx`, every start transformed each module it loads (tsx's own cache is keyed by the
// file's path, so a fresh clone or a copy of the tree starts cold): about 0.8 s of CPU for `npm run send`, 1 s more
// for `npm start`, against about 0.2 s from a bundle.
//
// Never stale: the bundle is reused only while every file that went into it has the bytes it was built from
// (the list and their digests are kept beside it, from esbuild's metafile); any change rebuilds it, and a new
// import can only come from a changed file. The launcher's own source, esbuild's version and tsconfig.json count
// as inputs too. A fresh clone has no bundle and builds one on first use (about 0.3 s).
//
// What the bundle keeps from running the sources: `import.meta.url` (and `.dirname`, `.filename`) as each SOURCE
// file's location (so `new URL('..', import.meta.url)` still finds the repository), `process.argv[1]` as the entry
// point's source path (its "am I the entry point" check), stack traces at the .ts lines (inline source maps), and
// packages imported from node_modules as they are (not bundled).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js' };

/**
 * esbuild plugin: every module of ours sees its own source location in `import.meta`. The module is transformed
 * alone with `define` first, which replaces the expressions in the syntax tree (a string or a comment that spells
 * `import.meta.url` stays as it is); its inline source map takes the bundle's map back to the .ts lines.
 * Shared with test/compile-tests.mjs.
 * @param {string} tsconfigPath
 */
export function sourceImportMeta(tsconfigPath) {
  const tsconfigRaw = readFile(tsconfigPath, 'utf8');
  return {
    name: 'source-import-meta',
    /** @param {import('esbuild').PluginBuild} b */
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        const loader = LOADERS[extname(path)] ?? 'js';
        if (!source.includes('import.meta')) return { contents: source, loader };
        const { transform } = await import('esbuild');
        const { code } = await transform(source, {
          loader,
          sourcefile: path,
          sourcemap: 'inline',
          format: 'esm',
          target: 'node20',
          tsconfigRaw: await tsconfigRaw,
          define: {
            'import.meta.url': JSON.stringify(pathToFileURL(path).href),
            'import.meta.dirname': JSON.stringify(dirname(path)),
            'import.meta.filename': JSON.stringify(path),
          },
        });
        return { contents: code, loader: 'js' };
      });
    },
  };
}

const digest = (/** @type {string | Buffer} */ bytes) => createHash('sha256').update(bytes).digest('hex');

/** Files that shape every bundle besides its sources (relative to the root). */
const TOOLING = ['build/launch.mjs', 'node_modules/esbuild/package.json', 'tsconfig.json'];

/**
 * Whether every input still has the bytes it had (a missing file counts as changed).
 * @param {string} root
 * @param {Record<string, string>} inputs relative path -> sha256
 */
function unchanged(root, inputs) {
  return Object.entries(inputs).every(([file, sum]) => {
    const full = join(root, file);
    return existsSync(full) && digest(readFileSync(full)) === sum;
  });
}

/**
 * Writes a file whole, then renames it into place: a launch running at the same time never reads half of it.
 * @param {string} file
 * @param {string} text
 */
function writeWhole(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * The bundle of `entry` (a path relative to `root`), built when missing or when any of its inputs changed.
 * Returns its path and whether this call built it. The cache is per root (the bundle holds the sources' absolute
 * locations) and per entry point.
 * @param {string} root
 * @param {string} entry
 * @param {string} [cacheDir]
 * @returns {Promise<{ bundle: string, built: boolean }>}
 */
export async function ensureLaunchBundle(root, entry, cacheDir = join(root, '.tools', 'cache', 'launch')) {
  const name = `${entry.replace(/[^\w.-]+/g, '_')}-${digest(resolve(root)).slice(0, 12)}`;
  const manifestFile = join(cacheDir, `${name}.json`);
  if (existsSync(manifestFile)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    const bundle = join(cacheDir, manifest.bundle);
    if (existsSync(bundle) && unchanged(root, manifest.inputs)) return { bundle, built: false };
  }
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'silent',
    outfile: join(cacheDir, `${name}.mjs`),
    plugins: [sourceImportMeta(join(root, 'tsconfig.json'))],
  });
  const files = [...Object.keys(result.metafile.inputs), ...TOOLING.filter((f) => existsSync(join(root, f)))];
  const inputs = Object.fromEntries(files.map((f) => [f, digest(readFileSync(join(root, f)))]));
  const bundleName = `${name}-${digest(JSON.stringify(inputs)).slice(0, 12)}.mjs`;
  mkdirSync(cacheDir, { recursive: true });
  writeWhole(join(cacheDir, bundleName), result.outputFiles[0].text);
  writeWhole(manifestFile, JSON.stringify({ entry, bundle: bundleName, inputs }, null, 1));
  pruneOlder(cacheDir, name, bundleName);
  return { bundle: join(cacheDir, bundleName), built: true };
}

/**
 * Removes this entry's bundles of earlier sources (one per edit would pile up), once a minute old: a launch that read
 * the previous manifest just before may still be about to import its bundle.
 * @param {string} cacheDir
 * @param {string} name
 * @param {string} keep
 */
function pruneOlder(cacheDir, name, keep) {
  for (const file of readdirSync(cacheDir)) {
    if (file === keep || !file.startsWith(`${name}-`) || !file.endsWith('.mjs')) continue;
    const full = join(cacheDir, file);
    if (Date.now() - statSync(full).mtimeMs > 60_000) rmSync(full, { force: true });
  }
}

/** `node build/launch.mjs <entry.ts> [args...]`: runs the entry's bundle with the arguments, as the entry itself. */
async function launch() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    process.stderr.write('usage: node build/launch.mjs <entry.ts, from the repository root> [args...]\n');
    process.exit(2);
  }
  const source = resolve(root, entry);
  let bundle;
  try {
    ({ bundle } = await ensureLaunchBundle(root, relative(root, source)));
  } catch (caught) {
    const err = /** @type {{ message: string, errors?: import('esbuild').Message[] }} */ (caught);
    const messages = err.errors?.map((e) => `${e.location?.file}:${e.location?.line}: ${e.text}`) ?? [err.message];
    process.stderr.write(`${entry} does not build:\n${messages.join('\n')}\n`);
    process.exit(1);
  }
  process.setSourceMapsEnabled(true);
  process.argv = [process.argv[0] ?? process.execPath, source, ...args];
  await import(pathToFileURL(bundle).href);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await launch();
