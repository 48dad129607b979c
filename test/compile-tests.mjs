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
import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceImportMeta } from '../build/launch.mjs';

// the same rewrite of `import.meta` that `npm start` and `npm run send` run local/ through (build/launch.mjs)
const sourceImportMetaPlugin = sourceImportMeta(fileURLToPath(new URL('../tsconfig.json', import.meta.url)));

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
    plugins: [sourceImportMetaPlugin],
  });
  return files.map((f) => join(outDir, f.replace(/\.[cm]?ts$/, '.mjs')));
}
