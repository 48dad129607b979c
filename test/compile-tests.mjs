// Compiles the test files of a run once, with esbuild, so that each test process starts as plain `node` instead of
// `node --import tsx`: tsx costs about 0.4 s of CPU to start in every process, then transforms every module it loads
// again in every process (the runtime's modules in each of some 60 processes); one esbuild build of every test file
// takes about a second.
//
// What the output keeps from running the sources:
// - one module instance per source file within a process: the files are bundled with code splitting, so a module
//   that two test files of one unit group import is one shared chunk, as it was one module under tsx;
// - `import.meta.url` (and `.dirname`, `.filename`) as the SOURCE file's location, rewritten module by module:
//   fixtures and `new URL('..', import.meta.url)` resolve from where the .ts file is, not from the output folder;
// - failure stack traces at the .ts lines: source maps, read by `node --enable-source-maps`;
// - packages as they are: imported from node_modules at run time, not bundled (the output sits under the
//   repository, so node finds them), exactly the versions the sources get.
import { build, transform } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The options esbuild's build reads from tsconfig.json itself; a lone transform is given them. */
const tsconfigRaw = readFile(new URL('../tsconfig.json', import.meta.url), 'utf8');
const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js' };

/**
 * esbuild plugin: every module of ours sees its own source location in `import.meta`. The module is transformed
 * alone with `define` first, which replaces the expressions in the syntax tree (a string or a comment that spells
 * `import.meta.url` stays as it is); its inline source map takes the bundle's map back to the .ts lines.
 */
const sourceImportMeta = {
  name: 'source-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]s$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const loader = LOADERS[extname(path)] ?? 'js';
      if (!source.includes('import.meta')) return { contents: source, loader };
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

/**
 * Compiles `files` (paths relative to `root`) into `outDir`, keeping their relative paths with `.mjs` for `.ts`.
 * Returns the output path of each file, in order. Rejects with esbuild's messages when a file does not compile.
 */
export async function compileTests(root, files, outDir) {
  await build({
    absWorkingDir: root,
    entryPoints: files,
    outbase: root,
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'silent',
    plugins: [sourceImportMeta],
  });
  return files.map((f) => join(outDir, f.replace(/\.[cm]?ts$/, '.mjs')));
}
