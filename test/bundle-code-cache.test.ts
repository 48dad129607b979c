// dist/knative-events.cjs compiles its code with the V8 code cache made at build time (build/code-cache.mjs):
// the cache is taken by this Node, and a damaged cache, one made by another Node or declined for other V8
// flags leaves a process that starts and answers all the same. Every role runs through the loader. Needs
// `npm run build`. NODE_DEBUG=knative-events makes the loader say on stderr what became of the cache.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { embeddedParts, plainBundle } from '../build/code-cache.mjs';
import { bundlePath, startBundle, type BundleProcess } from './helpers/bundle.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { waitFor } from './helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'ke-code-cache-'));
let sink: Receiver;
before(async () => {
  sink = await startReceiver();
});
after(async () => {
  await sink.close();
  rmSync(work, { recursive: true, force: true });
});

const event = (id: string) => ({
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': '/test',
    'ce-type': 'test.code-cache',
    'ce-knativeerrordest': 'http://subscriber.default.svc.cluster.local/',
    'ce-knativeerrorcode': '500',
  },
  body: JSON.stringify({ trade: id }),
});

/** A copy of the bundle with `edit` applied to its text. */
function editedBundle(name: string, edit: (text: string) => string): string {
  const text = readFileSync(bundlePath, 'utf8');
  const edited = edit(text);
  assert.notEqual(edited, text, 'the edit changed nothing');
  const file = join(work, name);
  writeFileSync(file, edited);
  return file;
}

/** Starts the subscriber from `file`, checks the echo of one event, stops it; returns its stderr. */
async function echoOnce(
  file: string,
  env: Record<string, string> = {},
  command = [process.execPath, file],
): Promise<string> {
  const running = await startBundle(
    { ROLE: 'subscriber', FUNCTION: 'echo', NODE_DEBUG: 'knative-events', ...env },
    { command },
  );
  try {
    const res = await fetch(running.url, event('echo-1'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { trade: 'echo-1' });
  } finally {
    await stopped(running);
  }
  return running.stderr();
}

async function stopped(running: BundleProcess): Promise<void> {
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0, running.stderr());
}

test('the built bundle takes its code cache and answers', async () => {
  assert.match(await echoOnce(bundlePath), /KNATIVE-EVENTS \d+: code cache accepted/);
});

test('a damaged cache is declined (its checksum) and the process starts and answers', async () => {
  // One character in the middle of the base64 cache (the file's last comment) changed: the bytes V8 would
  // deserialise are wrong, the length stays.
  const file = editedBundle('damaged.cjs', (text) => {
    const at = text.lastIndexOf('/*') + 300_000;
    return text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  });
  assert.match(await echoOnce(file), /code cache declined by V8/);
});

test('a cache made by another Node is not used and the process starts and answers', async () => {
  const file = editedBundle('other-node.cjs', (text) => text.replace(/"madeBy":"v[^"]*"/, '"madeBy":"v0.0.1 x64"'));
  assert.match(await echoOnce(file), /code cache not used: made by v0\.0\.1 x64/);
});

test('other V8 flags (NODE_OPTIONS) make V8 decline the cache; the process starts and answers', async () => {
  assert.match(await echoOnce(bundlePath, { NODE_OPTIONS: '--max-old-space-size=300' }), /code cache declined by V8/);
});

test('the sink-forwarder and the dlq run through the loader too', async () => {
  const forwarder = await startBundle({
    ROLE: 'sink-forwarder',
    FUNCTION: 'echo',
    KAFKA_SINK_URL: sink.url,
    SINK_EVENT_TYPE: 'test.forwarded',
  });
  try {
    assert.equal((await fetch(forwarder.url, event('fwd-1'))).status, 202);
    await waitFor(() => sink.accepted().length === 1, 5_000);
    assert.deepEqual(sink.accepted()[0]?.event?.data, { trade: 'fwd-1' });
  } finally {
    await stopped(forwarder);
  }
  const folder = mkdtempSync(join(work, 'dlq-'));
  const dlq = await startBundle({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: 'code-cache-test-token-0123456789' }, { cwd: folder });
  try {
    const res = await fetch(dlq.url, event('dead-1'));
    assert.equal(res.status, 202, await res.clone().text());
    assert.match(readFileSync(join(folder, 'dead-letters.jsonl'), 'utf8'), /"dead-1"/);
  } finally {
    await stopped(dlq);
  }
});

test("plainBundle gives back esbuild's output, which runs on its own (what the single executable embeds)", async () => {
  const plain = plainBundle(bundlePath);
  assert.match(plain, /^#!\/usr\/bin\/env node\n"use strict";/);
  assert.doesNotMatch(plain, /const layout = /);
  // The code's own `*/` (in strings and expressions) come back as they were from inside the comment.
  assert.ok(plain.includes('*/') && !plain.includes('*\u0001/'), 'every */ in the code is restored');
  const file = join(work, 'plain.cjs');
  writeFileSync(file, plain);
  assert.doesNotMatch(await echoOnce(file), /code cache/);
  copyFileSync(file, join(work, 'plain-again.cjs'));
  assert.equal(plainBundle(join(work, 'plain-again.cjs')), plain, 'a plain bundle is given back as it is');
});

test("the single executable's parts: the bundle's code with its cache, as esbuild made it (build/sea-loader.cjs)", () => {
  // That the executable takes the cache is test/binary.test.ts's (it builds dist/knative-events once a run; built
  // here too, it cost ~7 s of CPU a second time).
  const parts = embeddedParts(bundlePath);
  assert.ok(parts, 'the built bundle carries a code cache');
  assert.equal(
    `#!/usr/bin/env node${parts.code.trimEnd().slice('(function (exports, require, module, __filename, __dirname) {'.length, -3)}`,
    plainBundle(bundlePath),
  );
});
