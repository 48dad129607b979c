// functions/index.ts is generated from the folders in functions/; the checked-in file must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { functionLoaders, functionNames } from '../functions/index.js';

test('the registry lists exactly the function folders, and is up to date', () => {
  const folders = readdirSync('functions', { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(`functions/${e.name}/index.ts`))
    .map((e) => e.name)
    .sort();
  assert.deepEqual([...functionNames], folders);
  const check = spawnSync(process.execPath, ['build/gen-functions.mjs', '--check'], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
});

test('every registered function loads and exports a default function', async () => {
  for (const name of functionNames) {
    const loaded = await functionLoaders[name]?.();
    assert.equal(typeof loaded?.default, 'function', name);
  }
});
