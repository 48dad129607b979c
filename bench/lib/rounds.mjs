// Repeating a measurement in rounds and keeping, figure by figure, the median: one slow moment on a shared
// machine then moves a figure less. Each round measures every server once, so drift touches them alike.
// Non-2xx answers, errors and timeouts are summed over the rounds, never medianed away.
import { median } from './stats.mjs';

/** @typedef {import('./measure.mjs').Served} Served */
/** @typedef {import('./measure.mjs').LoadResult} LoadResult */
/** @typedef {Omit<LoadResult, 'peakMiB'> & { peakMiB?: number }} AnyLoad */

/**
 * @template T
 * @param {number} count
 * @param {(round: number) => Promise<T>} measure
 */
export async function inRounds(count, measure) {
  /** @type {T[]} */
  const results = [];
  for (let round = 0; round < count; round++) results.push(await measure(round));
  return results;
}

const summed = /** @type {const} */ (['total', 'ok', 'non2xx', 'errors', 'timeouts']);
const medianed = /** @type {const} */ (['requestsPerSecond', 'p99Ms', 'p50Ms', 'cpuUsPerRequest', 'peakMiB']);

/**
 * One load result from several rounds of the same run.
 * @template {AnyLoad} L
 * @param {L[]} loads
 * @returns {L}
 */
export function medianLoad(loads) {
  const out = { ...loads[0] };
  for (const key of medianed) if (loads[0][key] !== undefined) out[key] = median(loads.map((l) => l[key] ?? NaN));
  for (const key of summed) out[key] = loads.reduce((sum, l) => sum + l[key], 0);
  return out;
}

/**
 * @template {AnyLoad} L
 * @param {Record<number, L>[]} byConnections one per round
 * @returns {Record<number, L>}
 */
export function medianLoads(byConnections) {
  return Object.fromEntries(
    Object.keys(byConnections[0]).map((c) => [c, medianLoad(byConnections.map((round) => round[Number(c)]))]),
  );
}

/**
 * Servers measured in several rounds → one Served per server.
 * @param {Record<string, Served>[]} rounds
 * @returns {Record<string, Served>}
 */
export function medianServed(rounds) {
  return Object.fromEntries(
    Object.keys(rounds[0]).map((name) => {
      const each = rounds.map((r) => r[name]);
      return [
        name,
        {
          load: medianLoads(each.map((s) => s.load)),
          memory: {
            idleMiB: median(each.map((s) => s.memory.idleMiB)),
            peakMiB: median(each.map((s) => s.memory.peakMiB)),
          },
        },
      ];
    }),
  );
}
