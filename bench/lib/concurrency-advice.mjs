// From a scaling run's figures to Knative settings: the concurrency at which a container stops getting faster
// (req/s within `share` of its best) is where more in-flight requests only queue, so p99 grows with no gain.
// That is the `containerConcurrency` to allow, and the autoscaler should aim below it (Knative's own default
// utilisation is 70%) so that new pods start before the ones serving reach it.

/** @typedef {{ connections: number, requestsPerSecond: number, p99Ms: number }} Level */

/**
 * @param {Level[]} levels one per connection count, any order
 * @param {{ share?: number, utilisation?: number }} [o] share: how close to the best req/s counts as "stopped
 *   growing" (0.9); utilisation: the autoscaling target as a share of containerConcurrency (0.7, Knative's default)
 */
export function adviseConcurrency(levels, { share = 0.9, utilisation = 0.7 } = {}) {
  const sorted = [...levels].sort((a, b) => a.connections - b.connections);
  const best = Math.max(...sorted.map((l) => l.requestsPerSecond));
  const kneeAt = sorted.findIndex((l) => l.requestsPerSecond >= share * best);
  const knee = sorted[kneeAt];
  const next = sorted[kneeAt + 1];
  const previous = sorted[kneeAt - 1];
  return {
    containerConcurrency: knee.connections,
    target: Math.max(1, Math.round(utilisation * knee.connections)),
    knee,
    previous,
    next,
    best,
    share,
    utilisation,
  };
}

/** The advice as README sentences, with the figures it came from. */
export function adviceText(/** @type {ReturnType<typeof adviseConcurrency>} */ a) {
  const rps = (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US');
  const growth = a.next
    ? ` Going on to ${a.next.connections} connections gives ${rps(a.next.requestsPerSecond)} req/s (×${(a.next.requestsPerSecond / a.knee.requestsPerSecond).toFixed(2)}) for a p99 of ${a.next.p99Ms} ms (×${(a.next.p99Ms / Math.max(a.knee.p99Ms, 1)).toFixed(1)}): the extra requests only queue.`
    : '';
  return [
    `req/s reaches ${Math.round(a.share * 100)}% of its best (${rps(a.best)}) at ${a.knee.connections} connections (${rps(a.knee.requestsPerSecond)} req/s, p99 ${a.knee.p99Ms} ms).${growth}`,
    `Suggested: \`containerConcurrency: ${a.containerConcurrency}\` and autoscaling \`target: ${a.target}\` (${Math.round(a.utilisation * 100)}% of it, Knative's default utilisation), so new pods start before one is saturated.${a.previous ? ` The true knee lies between ${a.previous.connections} and ${a.knee.connections} connections: \`--levels\` with steps between them places it more exactly.` : ''}`,
  ].join('\n\n');
}
