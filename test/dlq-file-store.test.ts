// The file store never loses an acknowledged dead letter and never glues two records onto one line:
// short writes, a disk that fills up (a real small tmpfs when this runs as root and may mount, else an
// injected file system, and the test's name says which), a write that fails and cannot be cut back, the
// file deleted or replaced under a running dlq, a partial line appended by hand, and dead letters that are
// not valid CloudEvents, all listed again after a restart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openFileStore, type StoreFileHandle, type StoreFileSystem } from '../runtime/dlq/file-store.js';
import { nodeFileSystem } from '../runtime/dlq/file-system.js';
import { createLogger } from '../runtime/logger.js';
import { listAll, sendDeadLetter } from './helpers/dead-letters.js';
import { captureLogger, serveDlq } from './helpers/dlq-app.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'dlq-admin-token-for-file-tests';
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dlq-file-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function dlq(file: string): Promise<RunningRuntime> {
  const runtime = await startRuntime({ ROLE: 'dlq', DLQ_FILE: file, DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'info' });
  cleanups.push(() => runtime.stop());
  return runtime;
}

/** The file, line by line: every line must be a whole record (or `allowCorrupt` of them not). */
async function fileRecords(file: string): Promise<{ eventIds: string[]; broken: string[] }> {
  const text = await readFile(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  const eventIds: string[] = [];
  const broken: string[] = [];
  for (const line of text.split('\n').slice(0, -1)) {
    try {
      const record = JSON.parse(line) as { kind: string; event: { id: string } };
      if (record.kind === 'dead-letter') eventIds.push(record.event.id);
    } catch {
      broken.push(line);
    }
  }
  return { eventIds, broken };
}

/** A disk with `free` bytes left: a write gets what fits (a short write), then ENOSPC, as the kernel does. */
function limitedDisk(options: { free: number; maxPerWrite?: number; truncateFails?: boolean }) {
  const state = { free: options.free, shortWrites: 0, enospc: 0 };
  const wrap = (handle: StoreFileHandle): StoreFileHandle => ({
    async write(buffer, offset, length) {
      if (state.free <= 0) {
        state.enospc++;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      const n = Math.min(length, state.free, options.maxPerWrite ?? Infinity);
      if (n < length) state.shortWrites++;
      const { bytesWritten } = await handle.write(buffer, offset, n);
      state.free -= bytesWritten;
      return { bytesWritten };
    },
    read: (b, o, l, p) => handle.read(b, o, l, p),
    sync: () => handle.sync(),
    async truncate(length) {
      if (options.truncateFails) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      const before = (await handle.stat()).size;
      await handle.truncate(length);
      state.free += before - length;
    },
    stat: () => handle.stat(),
    close: () => handle.close(),
  });
  const fs: StoreFileSystem = {
    stat: nodeFileSystem.stat,
    open: async (path, flags, mode) => wrap(await nodeFileSystem.open(path, flags, mode)),
  };
  return { fs, state };
}

async function servedOn(file: string, fs: StoreFileSystem) {
  const { log, logs } = captureLogger();
  const store = await openFileStore({ path: file, log, fs });
  const served = await serveDlq(store, { env: { DLQ_FILE: file, DLQ_ADMIN_TOKEN: token }, log, logs });
  cleanups.push(() => served.close());
  return served;
}

const padding = (kb: number) => 'x'.repeat(kb * 1024);

/** Can this process mount a tmpfs (root in CI; not in an unprivileged container)? Decided once, up front. */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), 'dlq-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(probe);
  }
}
const tmpfs = canMountTmpfs();

describe('dlq file store: writes', () => {
  test('short writes: every byte is written before the 202, records stay whole', async () => {
    const file = join(await tempDir(), 'dl.jsonl');
    const disk = limitedDisk({ free: Infinity, maxPerWrite: 97 });
    const served = await servedOn(file, disk.fs);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sendDeadLetter(served.url, { id: `s-${i}`, data: { i, padding: padding(1) } }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(20).fill(202),
    );
    assert.ok(disk.state.shortWrites > 0, 'the file system did cut writes short');
    const { eventIds, broken } = await fileRecords(file);
    assert.deepEqual(broken, []);
    assert.deepEqual([...eventIds].sort(), Array.from({ length: 20 }, (_, i) => `s-${i}`).sort());
  });

  const fullDiskName = tmpfs
    ? 'a full disk (a real 128 KiB tmpfs): what does not fit is refused with 503, nothing acknowledged is lost, writing resumes once space is freed'
    : 'a full disk (injected file system: this process may not mount a tmpfs): what does not fit is refused with 503, nothing acknowledged is lost, writing resumes once space is freed';
  test(fullDiskName, async (t) => {
    const dir = await tempDir();
    let freeSpace: () => Promise<void>;
    let served;
    const file = join(dir, 'disk', 'dl.jsonl');
    await mkdir(join(dir, 'disk'));
    if (tmpfs) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', join(dir, 'disk')]);
      cleanups.push(async () => execFileSync('umount', ['-l', join(dir, 'disk')]));
      const filler = join(dir, 'disk', 'filler');
      await writeFile(filler, Buffer.alloc(48 * 1024));
      freeSpace = () => unlink(filler);
      served = await servedOn(file, nodeFileSystem);
    } else {
      const disk = limitedDisk({ free: 80 * 1024 });
      freeSpace = async () => {
        disk.state.free += 48 * 1024;
      };
      served = await servedOn(file, disk.fs);
    }
    t.diagnostic(
      tmpfs ? 'exercised on a real tmpfs' : 'exercised on the injected file system (no tmpfs mount permitted)',
    );
    const acknowledged: string[] = [];
    const refused: number[] = [];
    // One at a time until the disk is full, then a burst into the full disk.
    for (let i = 0; i < 12; i++) {
      const res = await sendDeadLetter(served.url, { id: `one-${i}`, data: { padding: padding(20) } });
      if (res.status === 202) acknowledged.push(`one-${i}`);
      else refused.push(res.status);
    }
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sendDeadLetter(served.url, { id: `burst-${i}`, data: { padding: padding(20) } }).then((r) => ({
          id: `burst-${i}`,
          r,
        })),
      ),
    );
    for (const { id, r } of burst) {
      if (r.status === 202) acknowledged.push(id);
      else refused.push(r.status);
    }
    assert.ok(acknowledged.length >= 1, 'some fit');
    assert.ok(refused.length >= 5, `the disk filled up (${refused.length} refused)`);
    assert.deepEqual([...new Set(refused)], [503], 'refused with 503 only');
    let on = await fileRecords(file);
    assert.deepEqual(on.broken, [], 'no cut line left behind');
    assert.deepEqual([...on.eventIds].sort(), [...acknowledged].sort(), 'exactly what was acknowledged');

    await freeSpace();
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await sendDeadLetter(served.url, { id: `after-${i}`, data: { padding: padding(20) } })).status,
        202,
      );
      acknowledged.push(`after-${i}`);
    }
    on = await fileRecords(file);
    assert.deepEqual(on.broken, []);
    assert.deepEqual([...on.eventIds].sort(), [...acknowledged].sort());
    await served.close();
    const again = await dlq(file);
    assert.deepEqual((await listAll(again.url, token)).map((i) => i.eventId).sort(), [...acknowledged].sort());
  });

  test('a failed write that cannot be cut back: refused, reported, and the next record starts on its own line', async () => {
    const file = join(await tempDir(), 'dl.jsonl');
    const disk = limitedDisk({ free: 3000, truncateFails: true });
    const served = await servedOn(file, disk.fs);
    assert.equal((await sendDeadLetter(served.url, { id: 'fits' })).status, 202);
    assert.equal((await sendDeadLetter(served.url, { id: 'cut', data: { padding: padding(4) } })).status, 503);
    disk.state.free = Infinity;
    assert.equal((await sendDeadLetter(served.url, { id: 'next' })).status, 202);
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines.length, 4, 'fits, the cut line closed with a newline, next, and the final newline');
    assert.equal(JSON.parse(lines[0]!).event.id, 'fits');
    assert.throws(() => JSON.parse(lines[1]!), 'the cut line stays (it is reported, not hidden)');
    assert.equal(JSON.parse(lines[2]!).event.id, 'next');
    const listed = await listAll(served.url, token);
    assert.deepEqual(
      listed.map((i) => i.eventId),
      ['next', 'fits'],
    );
    const corrupt = (await (
      await fetch(new URL('/dead-letters', served.url), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { corrupt: Array<{ line: number; reason: string }> };
    assert.deepEqual(
      corrupt.corrupt.map((c) => c.line),
      [2],
    );
    assert.ok(
      served.logs().some((l) => l.level === 50 || l.level === 'error'),
      'logged at error level',
    );
  });
});

describe('dlq file store: the file changed under it', () => {
  test('the store file deleted under a running dlq: recreated, logged, counted; nothing acknowledged into the unlinked file', async () => {
    const file = join(await tempDir(), 'dl.jsonl');
    const runtime = await dlq(file);
    for (let i = 0; i < 3; i++) assert.equal((await sendDeadLetter(runtime.url, { id: `before-${i}` })).status, 202);
    await unlink(file);
    for (let i = 0; i < 5; i++) assert.equal((await sendDeadLetter(runtime.url, { id: `after-${i}` })).status, 202);
    assert.deepEqual(
      (await fileRecords(file)).eventIds,
      ['after-0', 'after-1', 'after-2', 'after-3', 'after-4'],
      'in the file at the path',
    );
    assert.ok(
      runtime.logs().some((l) => l.level === 'error' && l.why === 'deleted'),
      'logged at error level',
    );
    const metrics = await (await fetch(new URL('/metrics', runtime.url))).text();
    assert.match(metrics, /knative_events_dead_letter_store_recreated_total\{why="deleted"\} 1/);
    assert.equal((await fetch(new URL('/readyz', runtime.url))).status, 200);
    assert.deepEqual(
      (await listAll(runtime.url, token)).map((i) => i.eventId),
      ['after-4', 'after-3', 'after-2', 'after-1', 'after-0'],
    );
    await runtime.stop();
    const restarted = await dlq(file);
    assert.equal(
      (await listAll(restarted.url, token)).length,
      5,
      'all five acknowledged after the deletion survive a restart',
    );
  });

  test('the store file replaced (renamed over) under a running dlq: the new file is indexed and written to', async () => {
    const dir = await tempDir();
    const file = join(dir, 'dl.jsonl');
    const other = join(dir, 'other.jsonl');
    const first = await dlq(other);
    assert.equal((await sendDeadLetter(first.url, { id: 'from-other' })).status, 202);
    await first.stop();
    const runtime = await dlq(file);
    assert.equal((await sendDeadLetter(runtime.url, { id: 'original' })).status, 202);
    await rename(other, file);
    assert.equal((await sendDeadLetter(runtime.url, { id: 'after' })).status, 202);
    assert.deepEqual((await fileRecords(file)).eventIds, ['from-other', 'after']);
    assert.deepEqual(
      (await listAll(runtime.url, token)).map((i) => i.eventId),
      ['after', 'from-other'],
    );
    assert.ok(runtime.logs().some((l) => l.level === 'error' && l.why === 'replaced'));
  });

  test('a partial line appended by hand while running never glues the next record onto it, and is reported', async () => {
    const file = join(await tempDir(), 'dl.jsonl');
    const runtime = await dlq(file);
    assert.equal((await sendDeadLetter(runtime.url, { id: 'a' })).status, 202);
    await appendFile(file, '{"kind":"dead-letter","id":"hand-made');
    assert.equal((await sendDeadLetter(runtime.url, { id: 'b' })).status, 202);
    await appendFile(file, 'a note without a newline');
    assert.equal((await sendDeadLetter(runtime.url, { id: 'c' })).status, 202);
    const lines = (await readFile(file, 'utf8')).split('\n');
    const eventIdOrLine = (l: string) => {
      try {
        return (JSON.parse(l) as { event: { id: string } }).event.id;
      } catch {
        return l;
      }
    };
    assert.deepEqual(lines.slice(1, 5).map(eventIdOrLine), [
      '{"kind":"dead-letter","id":"hand-made',
      'b',
      'a note without a newline',
      'c',
    ]);
    const page = (await (
      await fetch(new URL('/dead-letters', runtime.url), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { items: Array<{ eventId: string }>; corrupt: Array<{ line: number; reason: string }> };
    assert.deepEqual(
      page.items.map((i) => i.eventId),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      page.corrupt.map((c) => c.line),
      [2, 4],
    );
    await runtime.stop();
    const restarted = await dlq(file);
    const again = (await (
      await fetch(new URL('/dead-letters', restarted.url), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as typeof page;
    assert.deepEqual(
      again.items.map((i) => i.eventId),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      again.corrupt.map((c) => c.line),
      [2, 4],
    );
    // A partial line left at the end across a restart is closed before the next record too.
    await appendFile(file, '{"half":');
    await restarted.stop();
    const third = await dlq(file);
    assert.equal((await sendDeadLetter(third.url, { id: 'd' })).status, 202);
    assert.deepEqual((await fileRecords(file)).eventIds, ['a', 'b', 'c', 'd']);
  });
});

describe('dlq file store: dead letters that are not valid CloudEvents', () => {
  test('every unparseable kind is stored raw with what could be read, and a restart lists them all', async () => {
    const file = join(await tempDir(), 'dl.jsonl');
    const runtime = await dlq(file);
    const ce = (id: string) => ({
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': 'com.example.bad',
      'ce-source': '/bad',
      'ce-knativeerrorcode': '400',
      'ce-knativeerrordest': 'http://t.default.svc',
    });
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const utf16 = Buffer.from('{"name":"Grüße"}', 'utf16le');
    const kinds: Array<{ id: string; headers: Record<string, string>; body: Buffer }> = [
      {
        id: 'broken-json',
        headers: { ...ce('broken-json'), 'content-type': 'application/json' },
        body: Buffer.from('{"trade_id": "T-1", '),
      },
      { id: 'utf-16', headers: { ...ce('utf-16'), 'content-type': 'application/json; charset=utf-16' }, body: utf16 },
      {
        id: 'long-extension',
        headers: {
          ...ce('long-extension'),
          'ce-averyveryverylongextensionname': 'x',
          'content-type': 'application/json',
        },
        body: Buffer.from('{}'),
      },
      {
        id: 'validate',
        headers: { ...ce('validate'), 'ce-validate': 'yes', 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      },
      {
        id: 'constructor',
        headers: { ...ce('constructor'), 'ce-constructor': 'yes', 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      },
      {
        id: 'proto',
        headers: { ...ce('proto'), 'ce-__proto__': 'yes', 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      },
      { id: 'deep', headers: { ...ce('deep'), 'content-type': 'application/json' }, body: Buffer.from(deep) },
      {
        id: 'no-specversion',
        headers: { 'ce-id': 'no-specversion', 'ce-type': 't', 'content-type': 'text/plain' },
        body: Buffer.from('hello'),
      },
    ];
    for (const kind of kinds) {
      const res = await fetch(runtime.url, { method: 'POST', headers: kind.headers, body: kind.body });
      assert.equal(res.status, 202, `${kind.id}: ${await res.text()}`);
    }
    const notCloudEvent = await fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":1}',
    });
    assert.equal(notCloudEvent.status, 400, 'no CloudEvent attribute anywhere: the only refusal');
    assert.match(((await notCloudEvent.json()) as { error: { message: string } }).error.message, /not a CloudEvent/);

    await runtime.stop();
    const restarted = await dlq(file);
    const listed = await listAll(restarted.url, token);
    assert.deepEqual(
      listed.map((i) => i.eventId).reverse(),
      kinds.map((k) => k.id),
    );
    const shownRaw = async (id: string) => {
      const item = listed.find((i) => i.eventId === id)!;
      const res = await fetch(new URL(`/dead-letters/${item.id}`, restarted.url), {
        headers: { authorization: `Bearer ${token}` },
      });
      return (
        (await res.json()) as {
          deadLetter: { event: Record<string, unknown>; invalid?: string; error: { code: string } };
        }
      ).deadLetter;
    };
    for (const kind of kinds.filter((k) => k.id !== 'deep')) {
      const letter = await shownRaw(kind.id);
      assert.ok(letter.invalid, `${kind.id} is marked invalid`);
      assert.deepEqual(
        Buffer.from(letter.event.data_base64 as string, 'base64'),
        kind.body,
        `${kind.id}: the body byte for byte`,
      );
      assert.equal(letter.event.id, kind.id);
    }
    assert.equal((await shownRaw('validate')).event.validate, 'yes');
    assert.equal((await shownRaw('proto')).event.__proto__, 'yes');
    assert.equal((await shownRaw('constructor')).event.constructor, 'yes');
    assert.equal((await shownRaw('long-extension')).event.averyveryverylongextensionname, 'x');
    assert.equal((await shownRaw('broken-json')).error.code, '400', 'the Knative error attributes are read too');
    const deepLetter = await shownRaw('deep');
    assert.ok(
      deepLetter.invalid === undefined
        ? Array.isArray(deepLetter.event.data)
        : typeof deepLetter.event.data_base64 === 'string',
      'the deep one is stored, parsed or raw',
    );
  });
});

test('start-up streams the file: a store file larger than one read chunk with lines of every size is indexed whole', async () => {
  const file = join(await tempDir(), 'dl.jsonl');
  const log = createLogger({ level: 'silent', base: {} });
  const store = await openFileStore({ path: file, log });
  const sizes = [10, 3000, 1_500_000, 5, 700_000];
  for (const [i, size] of sizes.entries()) {
    await store.append({
      kind: 'dead-letter',
      id: `r-${i}`,
      receivedAt: new Date().toISOString(),
      error: { destination: undefined, code: undefined, data: undefined },
      event: { id: `e-${i}`, source: '/s', type: 't', data: 'y'.repeat(size) },
    });
  }
  await store.close();
  const reopened = await openFileStore({ path: file, log });
  const page = await reopened.query.list({ filter: {}, cursor: undefined, limit: 10, order: 'oldest' });
  assert.deepEqual(
    page.items.map((s) => [s.letter.id, (s.letter.event.data as string).length]),
    sizes.map((size, i) => [`r-${i}`, size]),
  );
  assert.deepEqual(reopened.corruptAtOpen, []);
  await reopened.close();
});
