// compare.mjs's measurements → the rows of its table (figures with the goals of issue 19) and the list of
// every load run, for the non-2xx check.

/** @typedef {import('./goals.mjs').Row} Row */
/** @typedef {import('./goals.mjs').Goal} Goal */
/** @typedef {import('./measure.mjs').LoadResult} LoadResult */
/** @typedef {{ load: Record<number, LoadResult>, memory: { idleMiB: number, peakMiB: number } }} Served */
/** @typedef {{ floor: Served, limit: Served, before: Served, after: Served }} Side */

/** @type {Goal[]} at plain Koa's speed and at least half the floor's */
const koaSpeed = [
  { of: 'limit', op: '≥', x: 1.0 },
  { of: 'floor', op: '≥', x: 0.5 },
];

/** @param {Record<string, Served | undefined>} side @param {(s: Served) => number} get */
const pick = (side, get) =>
  /** @type {import('./goals.mjs').Values} */ (
    Object.fromEntries(
      ['floor', 'limit', 'before', 'after'].map((k) => [k, side[k] ? get(/** @type {Served} */ (side[k])) : undefined]),
    )
  );

/** Share of req/s at 10 connections that metrics cost, in %. */
const overhead = (/** @type {Served} */ on, /** @type {Served} */ off) =>
  (100 * (off.load[10].requestsPerSecond - on.load[10].requestsPerSecond)) / off.load[10].requestsPerSecond;

/** @param {Record<string, Served>} s */
function subscriberRows(s) {
  /** @type {Row[]} */
  const rows = [];
  for (const c of [10, 100]) {
    rows.push({
      figure: `subscriber req/s @${c}`,
      values: pick(s, (x) => x.load[c].requestsPerSecond),
      goals: koaSpeed,
    });
    rows.push({ figure: `subscriber CPU µs/req @${c}`, values: pick(s, (x) => x.load[c].cpuUsPerRequest) });
  }
  rows.push({
    figure: 'metrics overhead (req/s @10, METRICS_ENABLED=false vs defaults)',
    values: { before: overhead(s.before, s.beforeNoMetrics), after: overhead(s.after, s.afterNoMetrics) },
    digits: 1,
    unit: '%',
    noRatios: true,
    goals: [{ of: 'value', op: '<', x: 5 }],
  });
  return rows;
}

/** @param {{ direct: Awaited<ReturnType<typeof import('./load.mjs').measureLoad>>, handler: Side, sink: Side }} f */
function forwardingRows(f) {
  const straight = f.direct.requestsPerSecond;
  return [
    { figure: 'sink-forwarder req/s @10', values: pick(f.sink, (x) => x.load[10].requestsPerSecond), goals: koaSpeed },
    { figure: 'sink-forwarder CPU µs/req @10', values: pick(f.sink, (x) => x.load[10].cpuUsPerRequest) },
    {
      figure: 'handler forwarding req/s @10',
      values: pick(f.handler, (x) => x.load[10].requestsPerSecond),
      goals: koaSpeed,
    },
    { figure: 'handler CPU µs/req @10', values: pick(f.handler, (x) => x.load[10].cpuUsPerRequest) },
    {
      figure: `handler forwarding ÷ posting straight to the stand-in (${Math.round(straight).toLocaleString('en-US')} req/s)`,
      values: pick(f.handler, (x) => x.load[10].requestsPerSecond / straight),
      digits: 2,
      unit: '×',
      noRatios: true,
    },
  ];
}

/**
 * @param {Record<string, { medianMs: number }>} cold
 * @param {Record<string, Served>} s
 * @returns {Row[]}
 */
function startRows(cold, s) {
  /** @type {Goal[]} */ const startGoal = [{ of: 'floor', op: '≤', x: 1.5 }];
  /** @type {Goal[]} */ const memoryGoal = [{ of: 'floor', op: '≤', x: 1.15 }];
  const coldOf = (/** @type {string} */ name) => cold[name]?.medianMs;
  const rows = [
    {
      figure: 'cold start ms (median), bundle',
      values: { floor: coldOf('floor'), limit: coldOf('limit'), before: coldOf('before'), after: coldOf('after') },
      digits: 1,
      goals: startGoal,
    },
    { figure: 'idle RSS MiB, bundle', values: pick(s, (x) => x.memory.idleMiB), digits: 1, goals: memoryGoal },
  ];
  if (cold.binary) {
    rows.push(
      {
        figure: 'cold start ms (median), single executable',
        values: { floor: coldOf('floor'), limit: coldOf('limit'), after: coldOf('binary') },
        digits: 1,
        goals: startGoal,
      },
      {
        figure: 'idle RSS MiB, single executable',
        values: { ...pick(s, (x) => x.memory.idleMiB), before: undefined, after: s.binary.memory.idleMiB },
        digits: 1,
        goals: memoryGoal,
      },
    );
  }
  return rows;
}

/** Every load run with a label, for the non-2xx report. */
function loadRuns(/** @type {Record<string, Record<string, Served>>} */ groups) {
  return Object.entries(groups).flatMap(([group, servers]) =>
    Object.entries(servers).flatMap(([name, served]) =>
      Object.entries(served.load).map(([c, load]) => ({ label: `${group} ${name} @${c}`, load })),
    ),
  );
}

/**
 * @param {{ cold: Record<string, { medianMs: number }>, subscriber: Record<string, Served>, forwarding?: Parameters<typeof forwardingRows>[0] }} m
 */
export function compareRows(m) {
  const rows = [...subscriberRows(m.subscriber)];
  if (m.forwarding) rows.push(...forwardingRows(m.forwarding));
  rows.push(...startRows(m.cold, m.subscriber));
  const groups = {
    subscriber: m.subscriber,
    ...(m.forwarding ? { handler: m.forwarding.handler, sink: m.forwarding.sink } : {}),
  };
  return { rows, runs: loadRuns(groups) };
}
