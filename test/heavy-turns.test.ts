// Large bodies are handed over one at a time, with the event loop left free between two for as long as
// the last one took, so timers and probes run between them instead of after all of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeavyTurns } from '../runtime/http/heavy-turns.js';

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
