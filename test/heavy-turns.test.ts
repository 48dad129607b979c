// Large bodies are handed over one at a time, with the event loop left free between two for as long as
// the last one took, so timers and probes run between them instead of after all of them; body intake is
// spread over turns of the loop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeavyTurns, createIntake } from '../runtime/http/heavy-turns.js';
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

/** Notes where a turn of the intake ends, in `events`, once a reader resumed in the turn calls it. */
function turnEnds(events: string[]): () => void {
  let marked = false;
  return () => {
    if (marked) return;
    marked = true;
    // Microtasks run once the intake's turn (a setImmediate callback) has returned: the end of the turn.
    queueMicrotask(() => {
      events.push('|');
      marked = false;
    });
  };
}

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

test('intake: while connections are being accepted, one reader is resumed per turn', async () => {
  // Stands for the server's accepted-connections watcher: a connection came in before each of the first two turns.
  let arrivals = 2;
  const intake = createIntake(512 * 1024, () => arrivals-- > 0);
  const events: string[] = [];
  const endOfTurn = turnEnds(events);
  for (const name of ['a', 'b', 'c', 'd', 'e'])
    intake.wait(() => {
      events.push(name);
      endOfTurn();
    });
  await waitFor(() => events.length === 8, 5000, { what: 'the five readers resumed', intervalMs: 1 });
  // One per turn while connections arrive (libuv accepts one per turn), then the full allowance again.
  assert.equal(events.join(''), 'a|b|cde|');
});

test('intake: after a turn that accepted a connection, the readers already flowing get one read between them', async () => {
  // Stands for the server's accepted-connections watcher.
  let accepting = true;
  const intake = createIntake(512 * 1024, () => accepting);
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  assert.equal(intake.take(0), true); // asks for the intake's turn, which runs before this test's immediate
  await nextTurn();
  assert.equal(intake.take(64 * 1024), true, 'one read');
  assert.equal(intake.take(1), false, 'then the readers pause while connections arrive');
  accepting = false;
  await nextTurn();
  assert.equal(intake.take(512 * 1024), true, 'the whole allowance once no connection came in');
  assert.equal(intake.take(1), false);
});

test('intake: a reader about to start has room only while the allowance lasts and nobody waits', async () => {
  const intake = createIntake(128 * 1024, () => false);
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  assert.equal(intake.hasRoom(), true);
  intake.take(128 * 1024);
  assert.equal(intake.hasRoom(), false, 'allowance spent');
  await nextTurn();
  assert.equal(intake.hasRoom(), true, 'a new turn');
  let resumed = false;
  intake.take(200 * 1024);
  intake.wait(() => (resumed = true));
  await nextTurn();
  assert.equal(resumed, true);
  intake.wait(() => undefined);
  assert.equal(intake.hasRoom(), false, 'someone waits: a new reader queues behind it');
});
