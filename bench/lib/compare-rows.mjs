// Measurements → the rows of the goals table (figures with the goals of issue 19), for compare.mjs (runs
// `before` and `after`) and run.mjs (run `ours`).
// Servers are keyed `floor`, `limit`, one key per run and `<run>NoMetrics` (METRICS_ENABLED=false); `binary`
// (the single executable) is shown in the last run's column.

/** @typedef {import('./goals.mjs').Row} Row */
/** @typedef {import('./goals.mjs').Goal} Goal */
/** @typedef {import('./goals.mjs').Values} Values */
/** @typedef {import('./measure.mjs').Served} Served */
/** @typedef {import('./measure-forwarding.mjs').Forwarding} Forwarding */

/** @type {Goal[]} at plain Koa's speed and at least half the floor's */
const koaSpeed = [
  { of: 'limit', op: '≥', x: 1.0 },
  { of: 'floor', op: '≥', x: 0.5 },
];

/**
 * @param {Record<string, Served | undefined>} servers
 * @param {string[]} runs
 * @param {(s: Served) => number} get
 * @returns {Values}
 */
const pick = (servers, runs, get) =>
  Object.fromEntries(['floor', 'limit', ...runs].map((k) => [k, servers[k] ? get(servers[k]) : undefined]));

/** Share of req/s at 10 connections that metrics cost, in %. */
const overhead = (/** @type {Served | undefined} */ on, /** @type {Served | undefined} */ off) =>
  on && off
    ? (100 * (off.load[10].requestsPerSecond - on.load[10].requestsPerSecond)) / off.load[10].requestsPerSecond
    : undefined;

/** @param {Record<string, Served | undefined>} s @param {string[]} runs @returns {Row[]} */
function subscriberRows(s, runs) {
  const connections = [10, 100].filter((c) => s.floor?.load[c]);
  return [
    ...connections.flatMap((c) => [
      {
        figure: `subscriber req/s @${c}`,
        values: pick(s, runs, (x) => x.load[c].requestsPerSecond),
        goals: koaSpeed,
      },
      { figure: `subscriber CPU µs/req @${c}`, values: pick(s, runs, (x) => x.load[c].cpuUsPerRequest) },
    ]),
    {
      figure: 'metrics overhead (req/s @10, METRICS_ENABLED=false vs defaults)',
      values: Object.fromEntries(runs.map((run) => [run, overhead(s[run], s[`${run}NoMetrics`])])),
      digits: 1,
      unit: '%',
      noRatios: true,
      goals: [{ of: 'value', op: '<', x: 5 }],
    },
  ];
}

/** @param {Forwarding} f @param {string[]} runs @returns {Row[]} */
function forwardingRows(f, runs) {
  const straight = f.direct[10].requestsPerSecond;
  const rps = (/** @type {Served} */ x) => x.load[10].requestsPerSecond;
  const cpu = (/** @type {Served} */ x) => x.load[10].cpuUsPerRequest;
  return [
    { figure: 'sink-forwarder req/s @10', values: pick(f.sink, runs, rps), goals: koaSpeed },
    { figure: 'sink-forwarder CPU µs/req @10', values: pick(f.sink, runs, cpu) },
    { figure: 'handler forwarding req/s @10', values: pick(f.handler, runs, rps), goals: koaSpeed },
    { figure: 'handler CPU µs/req @10', values: pick(f.handler, runs, cpu) },
    {
      figure: `handler forwarding ÷ posting straight to the stand-in (${Math.round(straight).toLocaleString('en-US')} req/s)`,
      values: pick(f.handler, runs, (x) => rps(x) / straight),
      digits: 2,
      unit: '×',
      noRatios: true,
    },
  ];
}

/** @typedef {Record<string, { medianMs: number, cpuMedianMs?: number } | undefined>} ColdStarts */

/**
 * Cold start, its CPU time and idle RSS of plain Koa bundled with the bundle's start-up plugins (`startUpLimit`,
 * measured by compare.mjs), in the last run's column beside the floor and plain Koa; then every run, and the
 * single executable, as a ratio to it: how far a start of ours is from what Koa alone loads with the same help.
 * @param {ColdStarts} cold @param {Record<string, Served | undefined>} s @param {string[]} runs
 * @returns {Row[]}
 */
function startUpLimitRows(cold, s, runs) {
  const limit = cold.startUpLimit;
  if (!limit) return [];
  const last = runs[runs.length - 1];
  const name = "plain Koa echo + this project's start-up plugins";
  /** @type {Array<[string, (run: string) => number | undefined, number]>} */
  const figures = [
    ['cold start ms (median)', (run) => cold[run]?.medianMs, 1],
    ['start-up CPU ms (median)', (run) => cold[run]?.cpuMedianMs, 0],
    ['idle RSS MiB', (run) => s[run]?.memory.idleMiB, 1],
  ];
  return figures.flatMap(([figure, of, digits]) => {
    const base = of('startUpLimit');
    const ratioTo = (/** @type {string} */ run) => {
      const value = of(run);
      return value !== undefined && base !== undefined ? value / base : undefined;
    };
    /** @type {Row[]} */
    const rows = [
      { figure: `${figure}: ${name}`, values: { floor: of('floor'), limit: of('limit'), [last]: base }, digits },
      {
        figure: `${figure}, bundle ÷ ${name}`,
        values: Object.fromEntries(runs.map((run) => [run, ratioTo(run)])),
        digits: 2,
        unit: '×',
        noRatios: true,
      },
    ];
    if (cold.binary)
      rows.push({
        figure: `${figure}, single executable ÷ ${name}`,
        values: { [last]: ratioTo('binary') },
        digits: 2,
        unit: '×',
        noRatios: true,
      });
    return rows;
  });
}

/**
 * @param {ColdStarts} cold
 * @param {Record<string, Served | undefined>} s
 * @param {string[]} runs
 * @returns {Row[]}
 */
function startRows(cold, s, runs) {
  /** @type {Goal[]} */ const startGoal = [{ of: 'floor', op: '≤', x: 1.5 }];
  /** @type {Goal[]} */ const memoryGoal = [{ of: 'floor', op: '≤', x: 1.15 }];
  const coldOf = (/** @type {string} */ name) => cold[name]?.medianMs;
  const idle = (/** @type {Served} */ x) => x.memory.idleMiB;
  const last = runs[runs.length - 1];
  const baselines = { floor: coldOf('floor'), limit: coldOf('limit') };
  const rows = [
    {
      figure: 'cold start ms (median), bundle',
      values: { ...baselines, ...Object.fromEntries(runs.map((run) => [run, coldOf(run)])) },
      digits: 1,
      goals: startGoal,
    },
    {
      figure: 'start-up CPU ms (median, to the first answer), bundle',
      values: Object.fromEntries(['floor', 'limit', ...runs].map((name) => [name, cold[name]?.cpuMedianMs])),
    },
    { figure: 'idle RSS MiB, bundle', values: pick(s, runs, idle), digits: 1, goals: memoryGoal },
  ];
  if (cold.binary && s.binary) {
    rows.push(
      {
        figure: 'cold start ms (median), single executable',
        values: { ...baselines, [last]: coldOf('binary') },
        digits: 1,
        goals: startGoal,
      },
      {
        figure: 'idle RSS MiB, single executable',
        values: { ...pick(s, [], idle), [last]: idle(s.binary) },
        digits: 1,
        goals: memoryGoal,
      },
    );
  }
  return [...rows, ...startUpLimitRows(cold, s, runs)];
}

/**
 * @param {{ cold: ColdStarts, subscriber: Record<string, Served | undefined>, forwarding?: Forwarding }} m
 * @param {string[]} runs
 */
export function compareRows(m, runs) {
  const rows = [...subscriberRows(m.subscriber, runs)];
  if (m.forwarding) rows.push(...forwardingRows(m.forwarding, runs));
  rows.push(...startRows(m.cold, m.subscriber, runs));
  return rows;
}
