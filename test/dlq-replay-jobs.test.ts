// The job runner and the rate limiter on their own, with the seams a database gives: a job run by another
// replica (PostgreSQL) is shown running while its heartbeat is fresh and interrupted once it stops; a cancel
// asked through another replica is picked up by the replica running the job; the limiter catches up at most
// a second's worth after a stall.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../runtime/logger.js';
import { memoryAdminState, openFileAdminState, type ReplayJob } from '../runtime/dlq/admin-state.js';
import { rateLimiter } from '../runtime/dlq/rate-limiter.js';
import { createJobRunner } from '../runtime/dlq/replay-jobs.js';
import { HttpError } from '../runtime/http/errors.js';
import type { Replayer } from '../runtime/dlq/replay.js';
import { replayTargets } from '../runtime/dlq/replay-target.js';
import type { DeadLetterQueries, StoredLetter } from '../runtime/dlq/store.js';
import { waitFor } from './helpers/dead-letters.js';

const log = createLogger({ level: 'silent', base: {} });

function letters(n: number): StoredLetter[] {
  return Array.from({ length: n }, (_, i) => ({
    letter: {
      kind: 'dead-letter',
      id: `l-${i}`,
      receivedAt: new Date(0).toISOString(),
      error: { destination: 'http://x/', code: '500', data: undefined },
      event: { id: `e-${i}` },
    },
    replayed: null,
  }));
}

function queriesOver(all: StoredLetter[]): DeadLetterQueries {
  return {
    async list({ cursor, limit }) {
      const from = cursor === undefined ? 0 : Number(cursor) + 1;
      const items = all.slice(from, from + limit);
      return { items, nextCursor: from + limit < all.length ? String(from + limit - 1) : null };
    },
    get: async (id) => all.find((s) => s.letter.id === id),
    markReplayed: async () => undefined,
    purge: async () => [],
    corrupt: () => [],
    validCursor: () => true,
  };
}

function countingReplayer(sent: string[]): Replayer {
  return {
    targets: replayTargets(undefined, []),
    async replay(stored, options) {
      await options.beforeSend?.();
      sent.push(stored.letter.id);
      return {
        id: stored.letter.id,
        replayed: true,
        status: 202,
        to: 'destination',
        target: 'http://x/',
        replayId: 'r',
        replayedAt: new Date().toISOString(),
      };
    },
    preview: () => ({ to: 'destination', target: 'http://x/', event: {} }),
  };
}

const caller = { label: 'test', token: 'sha256:000000000000' };

describe('replay jobs across replicas', () => {
  test('a database restarting while a job reads: each page tried again on the passed-in clock, nothing skipped', async () => {
    const state = memoryAdminState();
    const sent: string[] = [];
    const queries = queriesOver(letters(250));
    // The database refuses two reads in a row (the count, then the second page): a restart mid-job.
    let refusals = 0;
    const failing: DeadLetterQueries = {
      ...queries,
      list: (request) => {
        const refuse = (request.cursor === undefined && refusals === 0) || (request.cursor === '99' && refusals < 3);
        if (refuse) {
          refusals++;
          return Promise.reject(new Error('connection terminated: the database is restarting'));
        }
        return queries.list(request);
      },
    };
    const waits: number[] = [];
    const runner = createJobRunner({
      queries: failing,
      state,
      replayer: countingReplayer(sent),
      storeKind: 'postgres',
      now: () => new Date(),
      newId: () => 'j-restart',
      log,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    await runner.start({ filter: {}, to: 'destination', rate: 100_000, force: false, caller });
    const done = await waitFor('the job to end', async () => {
      const job = await state.getJob('j-restart');
      return job?.state === 'done' || job?.state === 'failed' ? job : undefined;
    });
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(refusals, 3);
    assert.deepEqual(waits, [2000, 2000, 2000], 'one wait on the clock per refused read');
    assert.deepEqual(
      sent,
      letters(250).map((l) => l.letter.id),
      'every dead letter once, in order',
    );
    assert.equal(done.replayed, 250);
  });

  test("failures are reported in the job's order, whatever order the target answers in", async () => {
    const state = memoryAdminState();
    const all = letters(6);
    // Every send fails; the target answers them last-sent-first (each waits until the ones after it are
    // answered), as a target under load does with sends in flight at once.
    const answered: string[] = [];
    const replayer: Replayer = {
      ...countingReplayer([]),
      async replay(stored) {
        const mine = all.findIndex((l) => l.letter.id === stored.letter.id);
        await waitFor(`the sends after ${stored.letter.id} to be answered`, () =>
          answered.length === all.length - 1 - mine ? true : undefined,
        );
        answered.push(stored.letter.id);
        throw new HttpError(503, 'upstream_unavailable', `target answered 503 for ${stored.letter.id}`);
      },
    };
    const runner = createJobRunner({
      queries: queriesOver(all),
      state,
      replayer,
      storeKind: 'postgres',
      now: () => new Date(),
      newId: () => 'j-order',
      log,
      sleep: () => Promise.resolve(),
    });
    await runner.start({ filter: {}, to: 'destination', rate: 100_000, force: false, caller });
    const done = await waitFor('the job to end', async () => {
      const job = await state.getJob('j-order');
      return job?.state === 'done' ? job : undefined;
    });
    assert.deepEqual(answered, ['l-5', 'l-4', 'l-3', 'l-2', 'l-1', 'l-0'], 'the answers came back in reverse');
    assert.equal(done.failed, 6);
    assert.deepEqual(
      done.failures.map((f) => [f.id, f.message]),
      all.map((l) => [l.letter.id, `target answered 503 for ${l.letter.id}`]),
    );
  });

  test('a job another replica runs: running while its heartbeat is fresh, interrupted once it stops; resumable here', async () => {
    const state = memoryAdminState();
    let now = Date.parse('2026-12-01T10:00:00Z');
    const other: ReplayJob = {
      id: 'j-1',
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      heartbeatAt: new Date(now).toISOString(),
      owner: 'another-replica',
      state: 'running',
      filter: {},
      to: 'destination',
      rate: 1000,
      force: false,
      caller,
      total: 10,
      done: 4,
      replayed: 4,
      skipped: 0,
      failed: 0,
      failures: [],
      cursor: '3',
      cancelRequested: false,
    };
    await state.saveJob(other);
    const sent: string[] = [];
    const runner = createJobRunner({
      queries: queriesOver(letters(10)),
      state,
      replayer: countingReplayer(sent),
      storeKind: 'postgres',
      now: () => new Date(now),
      newId: () => 'new',
      log,
      staleMs: 15_000,
    });
    now += 10_000;
    assert.equal((await runner.get('j-1'))?.state, 'running', 'heartbeat 10 s old: still running elsewhere');
    await assert.rejects(runner.resume('j-1'), /only an interrupted or failed job can be resumed/);
    now += 10_000;
    const stale = await runner.get('j-1');
    assert.equal(stale?.state, 'interrupted');
    assert.match(stale?.reason ?? '', /after 4 of 10/);
    await runner.resume('j-1');
    const done = await waitFor('the resumed job to finish', async () => {
      const job = await state.getJob('j-1');
      return job?.state === 'done' ? job : undefined;
    });
    assert.deepEqual(sent, ['l-4', 'l-5', 'l-6', 'l-7', 'l-8', 'l-9'], 'on from its cursor');
    assert.equal(done.replayed, 10);
  });

  test('the file store has one process: a running job of a previous process is interrupted at once', async () => {
    const state = memoryAdminState();
    const at = new Date().toISOString();
    await state.saveJob({
      id: 'j-2',
      createdAt: at,
      updatedAt: at,
      heartbeatAt: at,
      owner: 'the-process-before-the-restart',
      state: 'running',
      filter: {},
      to: 'destination',
      rate: 10,
      force: false,
      caller,
      total: 5,
      done: 1,
      replayed: 1,
      skipped: 0,
      failed: 0,
      failures: [],
      cursor: null,
      cancelRequested: false,
    });
    const runner = createJobRunner({
      queries: queriesOver(letters(5)),
      state,
      replayer: countingReplayer([]),
      storeKind: 'file',
      now: () => new Date(),
      newId: () => 'x',
      log,
    });
    assert.equal((await runner.get('j-2'))?.state, 'interrupted');
  });

  test('a cancel asked through another replica stops the job at its next heartbeat', async () => {
    const state = memoryAdminState();
    const sent: string[] = [];
    const runner = createJobRunner({
      queries: queriesOver(letters(200)),
      state,
      replayer: countingReplayer(sent),
      storeKind: 'postgres',
      now: () => new Date(),
      newId: () => 'j-3',
      log,
      saveEveryMs: 100,
    });
    await runner.start({ filter: {}, to: 'destination', rate: 20, force: false, caller });
    await waitFor('a few sent', () => (sent.length >= 3 ? true : undefined));
    // What another replica's cancel writes: the saved job with cancelRequested.
    const saved = (await state.getJob('j-3')) as ReplayJob;
    await state.saveJob({ ...saved, cancelRequested: true });
    const cancelled = await waitFor(
      'the job to stop',
      async () => {
        const job = await state.getJob('j-3');
        return job?.state === 'cancelled' ? job : undefined;
      },
      5000,
    );
    assert.ok(cancelled.replayed < 200);
    assert.equal(sent.length, cancelled.replayed);
    await runner.close();
  });
});

describe('rate limiter', () => {
  test("paces sends at the rate, and after a stall catches up at most one second's worth", async () => {
    let clock = 0;
    const limiter = rateLimiter(100, new AbortController().signal, () => clock);
    const waits: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    // The limiter sleeps with setTimeout: record the waits instead of sleeping.
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      waits.push(ms);
      clock += ms;
      queueMicrotask(fn);
      return 0;
    }) as unknown as typeof setTimeout;
    try {
      for (let i = 0; i < 5; i++) await limiter.take();
      assert.deepEqual(waits, [10, 10, 10, 10], 'one every 10 ms at 100/s');
      clock += 5000; // a 5 s stall (a slow target)
      waits.length = 0;
      let immediate = 0;
      for (let i = 0; i < 150; i++) {
        const before = waits.length;
        await limiter.take();
        if (waits.length === before) immediate++;
      }
      assert.equal(immediate, 101, 'one second of backlog (100 sends, plus the one due now) goes at once, not five');
      assert.ok(waits.every((w) => w > 9.99 && w <= 10.01));
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
  });
});

describe("the file store's admin file", () => {
  test("keeps the audit log and each job's latest state across a reopen, and compacts as jobs save their progress", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlq-admin-state-'));
    try {
      const path = join(dir, 'dead-letters.admin.jsonl');
      const state = await openFileAdminState(path, 20_000);
      for (let i = 0; i < 3; i++)
        await state.appendAudit({
          id: `a-${i}`,
          at: new Date(i).toISOString(),
          action: 'purge',
          caller,
          what: { ids: [`x-${i}`] },
          result: { purged: 1 },
        });
      const at = new Date().toISOString();
      const job: ReplayJob = {
        id: 'j',
        createdAt: at,
        updatedAt: at,
        heartbeatAt: at,
        owner: 'o',
        state: 'running',
        filter: {},
        to: 'destination',
        rate: 10,
        force: false,
        caller,
        total: 500,
        done: 0,
        replayed: 0,
        skipped: 0,
        failed: 0,
        failures: [],
        cursor: null,
        cancelRequested: false,
      };
      for (let done = 1; done <= 500; done++) await state.saveJob({ ...job, done, replayed: done });
      await state.close();
      assert.ok(statSync(path).size < 25_000, `compacted: ${statSync(path).size} bytes for 500 saves`);
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      assert.ok(lines.length < 100);
      const again = await openFileAdminState(path);
      assert.equal((await again.getJob('j'))?.done, 500);
      assert.deepEqual(
        (await again.listAudit(10, undefined)).items.map((e) => e.id),
        ['a-2', 'a-1', 'a-0'],
      );
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
