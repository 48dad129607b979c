// The built bundle (`npm run build` first) loads, through its start and its first requests, none of the Node
// built-ins that build/lazy-requires-plugin.mjs keeps out of start-up: Node's own list of the modules it has
// loaded (process.moduleLoadList), written by a preloaded script when the process exits.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bundlePath, startBundle } from './helpers/bundle.js';

const work = mkdtempSync(join(tmpdir(), 'ke-lazy-requires-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('a subscriber answers its first events without loading zlib, assert, worker_threads, crypto or https', async () => {
  const list = join(work, 'modules.txt');
  const preload = join(work, 'module-list.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`,
  );
  const running = await startBundle(
    { ROLE: 'subscriber', FUNCTION: 'echo' },
    { command: [process.execPath, '--require', preload, bundlePath] },
  );
  try {
    for (const id of ['lazy-1', 'lazy-2']) {
      const res = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-source': '/test',
          'ce-type': 'test.lazy',
        },
        body: JSON.stringify({ id }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id });
    }
    // A bad request too: koa's error path (http-errors, http-assert) runs without loading them either.
    const bad = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(bad.status, 400);
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
  }
  const loaded = readFileSync(list, 'utf8').split('\n');
  assert.ok(loaded.includes('NativeModule http'), 'the list is the real one: node:http is in it');
  for (const builtin of ['zlib', 'assert', 'worker_threads', 'crypto', 'https'])
    assert.ok(!loaded.includes(`NativeModule ${builtin}`), `node:${builtin} was loaded`);
});
