// Layers point one way: functions/ imports runtime/function-api.ts, so runtime/ never imports functions/ (the
// generated registry reaches the runtime from main.ts, the one exception: the process's entry point). Every
// import under runtime/ is read with the TypeScript compiler's pre-processor (static, dynamic, export-from and
// type-only imports alike) and resolved against its file's folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const functionsDir = join(root, 'functions');
/** The entry point hands the registry in; nothing else under runtime/ may reach functions/. */
const allowed = new Set(['runtime/main.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The relative imports of a file that land in functions/, as written. */
export function importsOfFunctions(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((specifier) => {
      if (!specifier.startsWith('.')) return false;
      const target = resolve(dirname(file), specifier);
      return target === functionsDir || target.startsWith(functionsDir + sep);
    });
}

test('the scan finds an import of functions/ in each form (so the test below can fail)', () => {
  const file = join(root, 'runtime', 'roles', 'x.ts');
  const text = [
    "import { functionLoaders } from '../../functions/index.js';",
    "import type { X } from '../../functions/echo/index.js';",
    "export { y } from '../../functions/index.js';",
    "const m = await import('../../functions/trade-transform/index.js');",
    "import { ok } from '../function-api.js';",
    "import { also } from '../../runtime-functions/index.js';",
  ].join('\n');
  assert.deepEqual(importsOfFunctions(file, text), [
    '../../functions/index.js',
    '../../functions/echo/index.js',
    '../../functions/index.js',
    '../../functions/trade-transform/index.js',
  ]);
});

test('no file under runtime/ imports from functions/ (main.ts injects the function registry)', () => {
  const files = sourceFiles(join(root, 'runtime'));
  assert.ok(files.length > 50, `expected the runtime's source files, found ${files.length}`);
  const offenders = files
    .map((file) => ({
      file: relative(root, file).split(sep).join('/'),
      imports: importsOfFunctions(file, readFileSync(file, 'utf8')),
    }))
    .filter(({ file, imports }) => imports.length > 0 && !allowed.has(file));
  assert.deepEqual(
    offenders,
    [],
    'runtime/ must not import functions/: take what it needs from main.ts (runtime/function-registry.ts)',
  );
});
