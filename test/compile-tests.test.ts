// The runner's compilation (test/compile-tests.mjs): a compiled test file must behave as its source does under tsx,
// or every test file could pass or fail for reasons that are not in its source.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileTests } from './compile-tests.mjs';
import type * as Meta from './fixtures/compile-tests/meta.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = 'test/fixtures/compile-tests/meta.ts';
// under the repository, as the runner's output is: node finds the packages from there
mkdirSync(join(root, '.tools', 'cache'), { recursive: true });
const outDir = mkdtempSync(join(root, '.tools', 'cache', 'compile-tests-test-'));
after(() => rmSync(outDir, { recursive: true, force: true }));
// failures in compiled files name the .ts lines (the runner passes --enable-source-maps)
process.setSourceMapsEnabled(true);

const [output] = await compileTests(root, [fixture], outDir);
assert.ok(output);
const compiled = (await import(pathToFileURL(output).href)) as typeof Meta;

test('each module sees its own source location in import.meta.url, so fixtures resolve as from the source', () => {
  assert.equal(output, join(outDir, 'test/fixtures/compile-tests/meta.mjs'));
  assert.equal(compiled.url, pathToFileURL(join(root, fixture)).href);
  assert.equal(compiled.folder, pathToFileURL(join(root, 'test/fixtures/compile-tests/')).href);
  assert.equal(compiled.helperUrl, pathToFileURL(join(root, 'test/fixtures/compile-tests/meta-helper.ts')).href);
  assert.equal(compiled.spelt, ['import', 'meta', 'url'].join('.'));
});

test('our modules are bundled in, packages are imported from node_modules as they are', () => {
  assert.equal(compiled.waits, 'function');
  assert.equal(compiled.packageName, 'Application');
  const code = readFileSync(output, 'utf8');
  assert.match(code, /from "koa"/);
  assert.doesNotMatch(code, /class Application/);
});

test('a failure names the .ts file and line, through the source map', () => {
  assert.throws(compiled.failsOnLine12, (err: Error) => {
    assert.match(err.stack ?? '', /test\/fixtures\/compile-tests\/meta\.ts:12:/);
    return true;
  });
});

test("a file that does not compile rejects with esbuild's message naming it", async () => {
  await assert.rejects(compileTests(root, ['test/fixtures/compile-tests/no-such-file.ts'], outDir), /no-such-file/);
});
