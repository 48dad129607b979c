// One markdown table of figures against goals: every figure beside its floor (bare node:http doing the same
// work) and its limit (plain Koa doing the same work), each measured run (compare.mjs: before and after;
// run.mjs: ours) as ratios to both, and the goal for the last run with PASS or MISS.
import { ratio } from './stats.mjs';

/**
 * @typedef {'floor' | 'limit' | 'value'} GoalBase what the goal compares the run with (`value`: the figure itself)
 * @typedef {{ of: GoalBase, op: '≥' | '≤' | '<', x: number }} Goal
 * @typedef {Record<string, number | undefined>} Values by column: floor, limit and one per run
 * @typedef {{ figure: string, values: Values, digits?: number, unit?: string, goals?: Goal[], noRatios?: boolean }} Row
 *   noRatios: the values are ratios or shares already (ratios of them to the floor would say nothing new)
 */

const show = (/** @type {number | undefined} */ n, digits = 0, unit = '') =>
  n !== undefined && Number.isFinite(n)
    ? `${n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit}`
    : '–';

/** @param {Goal} goal @param {Values} v @param {string} run */
function met(goal, v, run) {
  const value = v[run] ?? NaN;
  const base = goal.of === 'value' ? 1 : (v[goal.of] ?? NaN);
  const r = value / base;
  if (!Number.isFinite(r)) return undefined;
  return goal.op === '≥' ? r >= goal.x : goal.op === '≤' ? r <= goal.x : r < goal.x;
}

const goalText = (/** @type {Goal} */ g, unit = '') => {
  const x = Number.isInteger(g.x) ? g.x.toFixed(1) : String(g.x);
  return g.of === 'value' ? `${g.op} ${x}${unit}` : `${g.op} ${x}× ${g.of}`;
};

/** PASS when every goal is met, MISS when one is not, `?` when a figure is missing, empty without a goal. */
export function verdict(/** @type {Row} */ row, /** @type {string} */ run) {
  if (!row.goals?.length) return '';
  const results = row.goals.map((g) => met(g, row.values, run));
  if (results.includes(false)) return '**MISS**';
  return results.includes(undefined) ? '?' : 'PASS';
}

/**
 * @param {Row[]} rows
 * @param {{ floor: string, limit: string, runs: string[] }} names what the floor and limit columns stand for,
 *   and the runs measured (the last one is judged against the goals)
 */
export function renderGoalTable(rows, names) {
  const judged = names.runs[names.runs.length - 1];
  const ratioHeads = ['floor', 'limit'].flatMap((base) => names.runs.map((run) => `${run} ÷ ${base}`));
  const lines = [
    `| figure | floor (${names.floor}) | limit (${names.limit}) | ${names.runs.join(' | ')} | ${ratioHeads.join(' | ')} | goal (${judged}) | verdict |`,
    `|${' --- |'.repeat(5 + 3 * names.runs.length)}`,
  ];
  for (const row of rows) {
    const v = (/** @type {string} */ column) => show(row.values[column], row.digits, row.unit);
    const ratios = ['floor', 'limit'].flatMap((base) =>
      names.runs.map((run) => (row.noRatios ? '' : ratio(row.values[run], row.values[base]))),
    );
    const goals = (row.goals ?? []).map((g) => goalText(g, row.unit)).join(', ');
    lines.push(
      `| ${row.figure} | ${v('floor')} | ${v('limit')} | ${names.runs.map(v).join(' | ')} | ${ratios.join(' | ')} | ${goals} | ${verdict(row, judged)} |`,
    );
  }
  return lines.join('\n');
}
