// Large bodies are handed over one at a time, with the event loop left free between two for as long as
// the last one took, so timers and probes run between them instead of after all of them; sliced jobs run
// one at a time, a few milliseconds per turn of the loop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeavyTurns, createIntake, createRequestGate, createSliceQueue } from '../runtime/http/heavy-turns.js';
import { waitFor } from './helpers/wait.js';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // synchronous work, as JSON.parse of a large body is
  }
}

test('three large bodies at once: one at a time, with other work between them', async () => {
  const takeTurn = createHeavyTurns();
  const events: Array<{ what: string; at: number }> = [];
  const note = (what: string) => events.push({ what, at: performance.now() });
  const probe = setInterval(() => note('probe'), 2);
  const work = async (name: string) => {
    await takeTurn();
    note(`start ${name}`);
    busy(60);
    note(`end ${name}`);
  };
  await Promise.all(['a', 'b', 'c'].map(work));
  clearInterval(probe);
  const order = events.map((e) => e.what).filter((w) => w !== 'probe');
  assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  for (const [done, next] of [
    ['end a', 'start b'],
    ['end b', 'start c'],
  ] as const) {
    const from = events.findIndex((e) => e.what === done);
    const to = events.findIndex((e) => e.what === next);
    const between = events.slice(from + 1, to).filter((e) => e.what === 'probe').length;
    assert.ok(between >= 3, `${between} probes ran between ${done} and ${next}`);
    const pause = (events[to]?.at ?? 0) - (events[from]?.at ?? 0);
    assert.ok(pause >= 50, `the loop was left free for ${Math.round(pause)} ms after a 60 ms body`);
  }
});

test('a large body alone is handed over at once', async () => {
  const takeTurn = createHeavyTurns();
  const started = performance.now();
  await takeTurn();
  assert.ok(performance.now() - started < 50);
});

/** Notes where each turn of a slice queue ends, in `events`, once a slice of the turn calls it. */
function turnEnds(events: string[]): () => void {
  let marked = false;
  return () => {
    if (marked) return;
    marked = true;
    // Microtasks run once the queue's turn (a setImmediate callback) has returned: the end of the turn.
    queueMicrotask(() => {
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

test('sliced jobs: one at a time in arrival order, as many slices per turn as its time allows', async () => {
  let now = 0;
  const runInSlices = createSliceQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  const slice = () => {
    now += 1;
    endOfTurn();
  };
  await Promise.all([runInSlices(notedJob('a', 4, events, slice)), runInSlices(notedJob('b', 4, events, slice))]);
  // 1 ms per slice, 3 ms per turn: three slices, then the loop's other work, whichever job they belong to.
  assert.equal(events.join(''), 'aaa|abb|bb|');
});

test('sliced jobs: a slice slower than the turn still makes progress, one per turn', async () => {
  let now = 0;
  const runInSlices = createSliceQueue(3, () => now);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  await runInSlices(
    notedJob('a', 3, events, () => {
      now += 10;
      endOfTurn();
    }),
  );
  assert.equal(events.join(''), 'a|a|a|');
});

test('sliced jobs: a slice that throws rejects its own job only', async () => {
  const runInSlices = createSliceQueue();
  const failing = runInSlices(() => {
    throw new Error('broken slice');
  });
  const events: string[] = [];
  const next = runInSlices(notedJob('b', 2, events, () => {}));
  await assert.rejects(failing, /broken slice/);
  await next;
  assert.deepEqual(events, ['b', 'b']);
});

test('intake: past the allowance readers wait; a later turn resumes them in order, as many as it covers', async () => {
  const intake = createIntake(128 * 1024);
  assert.equal(intake.take(100 * 1024), true);
  assert.equal(intake.take(64 * 1024), false, "over the turn's allowance");
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  for (const name of ['a', 'b', 'c'])
    intake.wait(() => {
      events.push(name);
      endOfTurn();
    });
  assert.deepEqual(events, [], 'nobody resumed in the turn that spent the allowance');
  await waitFor(() => events.length === 5, 5000, { what: 'the three readers resumed', intervalMs: 1 });
  // 128 KiB a turn, about one 64 KiB socket read per reader resumed: two in the first turn, one in the next.
  assert.equal(events.join(''), 'ab|c|');
  assert.equal(intake.take(64 * 1024), true, 'a new turn, a new allowance');
});

/**
 * Notes '|' in `events` where a turn of the event loop ends, once something in the turn calls it: an immediate
 * scheduled now runs in the next turn, before the gate's starts of that turn (they are scheduled later, at
 * the end of this turn). Unlike turnEnds, it does not rely on microtasks, which run between two starts.
 */
function checkPhaseEnds(events: string[]): () => void {
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

test('request gate: starts in arrival order, as many per turn as its time allows, microtasks counted', async () => {
  let now = 0;
  const gate = createRequestGate(3, () => now);
  const events: string[] = [];
  const endOfTurn = checkPhaseEnds(events);
  for (const name of 'abcdefgh')
    gate.enter(() => {
      events.push(name);
      endOfTurn();
      // What a start causes at once (Koa's answer, the log line) runs in its microtasks: it counts too.
      queueMicrotask(() => (now += 1));
    });
  assert.deepEqual(events, [], 'nothing starts in the turn it arrives in');
  await gate.settled();
  await waitFor(() => events.at(-1) === '|', 5000, { what: 'the last turn ended', intervalMs: 1 });
  // 1 ms per start, 3 ms per turn: three starts, then the loop polls (probes are answered) before the next.
  assert.equal(events.join(''), 'abc|def|gh|');
});

test('request gate: a start slower than the turn still lets one start per turn', async () => {
  let now = 0;
  const gate = createRequestGate(3, () => now);
  const events: string[] = [];
  const endOfTurn = checkPhaseEnds(events);
  for (const name of 'abc')
    gate.enter(() => {
      events.push(name);
      endOfTurn();
      now += 10;
    });
  await gate.settled();
  await waitFor(() => events.at(-1) === '|', 5000, { what: 'the last turn ended', intervalMs: 1 });
  assert.equal(events.join(''), 'a|b|c|');
});

test('request gate: settled() waits for every request entered, also ones entered while it waits', async () => {
  const gate = createRequestGate();
  const started: number[] = [];
  for (let i = 0; i < 40; i++) gate.enter(() => started.push(i));
  const settled = gate.settled().then(() => [...started]);
  gate.enter(() => started.push(40));
  assert.deepEqual(await settled, [...Array(41).keys()]);
  // With nothing waiting it resolves at once.
  await gate.settled();
});
