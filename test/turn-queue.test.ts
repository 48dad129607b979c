// The turn queue (runtime/http/turn-queue.ts): request starts and the slices of long jobs, in arrival order,
// as many per turn of the event loop as the turn's time allows (what a unit causes in its microtasks
// included), at least one per turn. Turns are told apart by an immediate scheduled in the turn before (it
// runs ahead of the queue's next turn), time by an injected clock: no wall-clock threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTurnQueue } from '../runtime/http/turn-queue.js';
import { waitFor } from './helpers/wait.js';

/**
 * Notes '|' in `events` where a turn of the event loop ends, once something in the turn calls it: an immediate
 * scheduled now runs in the next turn, before the queue's units of that turn (they are scheduled later, at
 * the end of this turn). Microtasks would not do: they run between two units.
 */
function turnEnds(events: string[]): () => void {
  let marked = false;
  return () => {
    if (marked) return;
    marked = true;
    setImmediate(() => {
      events.push('|');
      marked = false;
    });
  };
}

/** A job of `count` slices, each noted in `events` by the job's name. */
function notedJob(name: string, count: number, events: string[], onSlice: () => void) {
  let left = count;
  return () => {
    events.push(name);
    onSlice();
    return --left === 0;
  };
}

/** Waits until the turn that ran the last unit has ended (its '|' noted). */
const lastTurnEnded = (events: string[]) =>
  waitFor(() => events.at(-1) === '|', 5000, { what: 'the last turn ended', intervalMs: 1 });

test('sliced jobs: one at a time in arrival order, as many slices per turn as its time allows', async () => {
  let now = 0;
  const queue = createTurnQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  const slice = () => {
    now += 1;
    endOfTurn();
  };
  await Promise.all([queue.run(notedJob('a', 4, events, slice)), queue.run(notedJob('b', 4, events, slice))]);
  await lastTurnEnded(events);
  // 1 ms per slice, 3 ms per turn: three slices, then the loop's other work, whichever job they belong to.
  assert.equal(events.join(''), 'aaa|abb|bb|');
});

test('sliced jobs: a slice slower than the turn still makes progress, one per turn', async () => {
  let now = 0;
  const queue = createTurnQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  await queue.run(
    notedJob('a', 3, events, () => {
      now += 10;
      endOfTurn();
    }),
  );
  await lastTurnEnded(events);
  assert.equal(events.join(''), 'a|a|a|');
});

test('sliced jobs: a slice that throws rejects its own job only', async () => {
  const queue = createTurnQueue();
  const failing = queue.run(() => {
    throw new Error('broken slice');
  });
  const events: string[] = [];
  const next = queue.run(notedJob('b', 2, events, () => {}));
  await assert.rejects(failing, /broken slice/);
  await next;
  assert.deepEqual(events, ['b', 'b']);
});

test('request starts: in arrival order, as many per turn as its time allows, their microtasks counted', async () => {
  let now = 0;
  const queue = createTurnQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  for (const name of 'abcdefgh')
    queue.enter(() => {
      events.push(name);
      endOfTurn();
      // What a start causes at once (Koa's answer, the log line) runs in its microtasks: it counts too.
      queueMicrotask(() => (now += 1));
    });
  assert.deepEqual(events, [], 'nothing starts in the turn it arrives in');
  await queue.settled();
  await lastTurnEnded(events);
  // 1 ms per start, 3 ms per turn: three starts, then the loop polls (probes are answered) before the next.
  assert.equal(events.join(''), 'abc|def|gh|');
});

test('one budget for both: a request that arrives behind a job starts once the job is done, in the same turns', async () => {
  let now = 0;
  const queue = createTurnQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  const job = queue.run(notedJob('a', 4, events, () => ((now += 1), endOfTurn())));
  queue.enter(() => {
    events.push('r');
    now += 1;
    endOfTurn();
  });
  await job;
  await queue.settled();
  await lastTurnEnded(events);
  assert.equal(events.join(''), 'aaa|ar|');
});

test('request starts: one slower than the turn still lets one start per turn', async () => {
  let now = 0;
  const queue = createTurnQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  for (const name of 'abc')
    queue.enter(() => {
      events.push(name);
      endOfTurn();
      now += 10;
    });
  await queue.settled();
  await lastTurnEnded(events);
  assert.equal(events.join(''), 'a|b|c|');
});

test('settled() waits for every request entered, also ones entered while it waits', async () => {
  const queue = createTurnQueue();
  const started: number[] = [];
  for (let i = 0; i < 40; i++) queue.enter(() => started.push(i));
  const settled = queue.settled().then(() => [...started]);
  queue.enter(() => started.push(40));
  assert.deepEqual(await settled, [...Array(41).keys()]);
  // With nothing waiting it resolves at once.
  await queue.settled();
});

test('a turn in which a connection was accepted runs one unit only, so the next connection is accepted soon', async () => {
  let now = 0;
  // Stands for the server's accepted-connections watcher: connections came in before each of the first two turns.
  let arrivals = 2;
  const queue = createTurnQueue(
    3,
    () => now,
    () => arrivals-- > 0,
  );
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  await queue.run(notedJob('a', 6, events, () => ((now += 1), endOfTurn())));
  await lastTurnEnded(events);
  // 1 ms a slice, 3 ms a turn: one slice in each of the two turns that accepted a connection, then three.
  assert.equal(events.join(''), 'a|a|aaa|a|');
});
