// dist/knative-events.cjs compiles its code with the V8 code cache made at build time (build/code-cache.mjs),
// both read from its payload dist/knative-events.code: the cache is taken by this Node, and a damaged cache, one
// made by another Node or declined for other V8 flags leaves a process that starts and answers all the same; a
// payload of another build is refused with a message, not run. Every role runs through the loader. Needs
// `npm run build`. NODE_DEBUG=knative-events makes the loader say on stderr what became of the cache.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copyBundle, embeddedParts, payloadFileOf, plainBundle } from '../build/code-cache.mjs';
import { deferredNames } from '../build/deferred-sources.mjs';
import { binaryEvent, bundlePath, startBundle, type BundleProcess } from './helpers/bundle.js';
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

const event = (id: string) =>
  binaryEvent(
    id,
    'test.code-cache',
    { trade: id },
    {
      'ce-knativeerrordest': 'http://subscriber.default.svc.cluster.local/',
      'ce-knativeerrorcode': '500',
    },
  );

/** A copy of the bundle (loader and payload) with `edit` applied to the loader's text or to the payload's bytes. */
function editedBundle(name: string, edit: { loader?: (text: string) => string; payload?: (bytes: Buffer) => Buffer }) {
  const file = join(work, name);
  copyBundle(bundlePath, file);
  const editFile = <T extends string | Buffer>(path: string, read: () => T, change: (before: T) => T) => {
    const before = read();
    const after = change(before);
    assert.notDeepEqual(after, before, 'the edit changed nothing');
    writeFileSync(path, after);
  };
  if (edit.loader) editFile(file, () => readFileSync(file, 'utf8'), edit.loader);
  if (edit.payload) editFile(payloadFileOf(file), () => readFileSync(payloadFileOf(file)), edit.payload);
  return file;
}

/** The loader's layout: where the cache is in the payload. */
const layout = (): { code: number; cache: number; id: string } =>
  JSON.parse(/^const layout = (\{.*\});$/m.exec(readFileSync(bundlePath, 'utf8'))?.[1] ?? 'null');

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
  // One byte in the middle of the cache changed: the bytes V8 would deserialise are wrong, the length stays.
  const file = editedBundle('damaged.cjs', {
    payload: (bytes) => {
      const copy = Buffer.from(bytes);
      const at = layout().code + Math.floor(layout().cache / 2);
      copy[at] = (copy[at] ?? 0) ^ 0x55;
      return copy;
    },
  });
  assert.match(await echoOnce(file), /code cache declined by V8/);
});

test('a cache made by another Node is not used and the process starts and answers', async () => {
  const file = editedBundle('other-node.cjs', {
    loader: (text) => text.replace(/"madeBy":"v[^"]*"/, '"madeBy":"v0.0.1 x64"'),
  });
  assert.match(await echoOnce(file), /code cache not used: made by v0\.0\.1 x64/);
});

test("another build's payload, or none, is refused with a message that names it", async () => {
  const other = editedBundle('other-build.cjs', {
    loader: (text) => text.replace(/"id":"[0-9a-f]+"/, '"id":"0123456789abcdef"'),
  });
  const refused = spawnSync(process.execPath, [other], {
    env: { ROLE: 'subscriber', FUNCTION: 'echo' },
    encoding: 'utf8',
  });
  assert.notEqual(refused.status, 0);
  assert.match(
    refused.stderr,
    /other-build\.code is not the payload of .*other-build\.cjs \(build 0123456789abcdef\): build again/,
  );
  const alone = join(work, 'alone.cjs');
  copyFileSync(bundlePath, alone);
  const missing = spawnSync(process.execPath, [alone], {
    env: { ROLE: 'subscriber', FUNCTION: 'echo' },
    encoding: 'utf8',
  });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /alone\.code, the code of .*alone\.cjs, cannot be read: copy the two files together/);
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

test("plainBundle gives back esbuild's output, which runs on its own (what a --no-code-cache executable embeds)", async () => {
  const plain = plainBundle(bundlePath);
  assert.match(plain, /^#!\/usr\/bin\/env node\n"use strict";/);
  assert.doesNotMatch(plain, /const layout = /);
  assert.match(plain, /\/\/# sourceMappingURL=knative-events\.cjs\.map\n$/);
  const file = join(work, 'plain.cjs');
  writeFileSync(file, plain);
  assert.doesNotMatch(await echoOnce(file), /code cache/);
  copyFileSync(file, join(work, 'plain-again.cjs'));
  assert.equal(plainBundle(join(work, 'plain-again.cjs')), plain, 'a plain bundle is given back as it is');
});

test("the single executable's parts: the code, its cache and the deferred sources, as esbuild made them (build/sea-loader.cjs)", () => {
  // That the executable takes the cache is test/binary.test.ts's (it builds dist/knative-events once a run; built
  // here too, it cost ~7 s of CPU a second time).
  const parts = embeddedParts(bundlePath);
  assert.ok(parts, 'the built bundle carries a code cache');
  assert.deepEqual(Object.keys(parts.deferred), deferredNames);
  const plain = plainBundle(bundlePath);
  for (const [name, literal] of Object.entries(parts.deferred)) {
    // Out of the code V8 keeps, into the payload: the literal esbuild wrote, put back in the plain bundle.
    assert.ok(literal.length > 50_000 && !parts.code.includes(literal), `${name}'s source is still in the code`);
    assert.ok(plain.includes(`"deferred:${name}"(`) && plain.includes(`source=${literal}`), `${name} not put back`);
  }
  assert.equal(
    plain.split('\n').length + 1, // the wrapper's closing line
    parts.code.split('\n').length,
    'the code keeps every line where the source map has it',
  );
});

test('a deferred package is read from the payload when first imported, and only then', async () => {
  // Each read of a deferred source (build/deferred-sources.mjs) is the loader compiling `<name>.source`.
  const reads = join(work, 'deferred-reads.txt');
  const preload = join(work, 'deferred-reads.cjs');
  writeFileSync(
    preload,
    `const vm = require('node:vm');
const run = vm.runInThisContext;
vm.runInThisContext = (code, options) => {
  if (/\\.source$/.test(options?.filename ?? '')) require('node:fs').appendFileSync(${JSON.stringify(reads)}, options.filename + '\\n');
  return run(code, options);
};
`,
  );
  writeFileSync(reads, '');
  const command = [process.execPath, '--require', preload, bundlePath];
  await stopped(await startBundle({ ROLE: 'subscriber', FUNCTION: 'echo' }, { command }));
  assert.equal(readFileSync(reads, 'utf8'), '', 'a subscriber read a deferred source');
  // The dlq's PostgreSQL store loads pg as it starts (nothing needs to listen at the address for that).
  const dlq = await startBundle(
    {
      ROLE: 'dlq',
      DLQ_ADMIN_TOKEN: 'code-cache-test-token-0123456789',
      DLQ_STORE: 'postgres',
      DLQ_DATABASE_URL: 'postgres://user:pass@127.0.0.1:9/dead',
    },
    { command },
  );
  await stopped(dlq);
  assert.equal(readFileSync(reads, 'utf8'), 'pg.source\n');
});
