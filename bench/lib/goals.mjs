// One markdown table for before/after comparisons: every figure beside its floor (bare node:http doing the
// same work) and its limit (plain Koa doing the same work), both runs as ratios to each, and the goal
// for `after` with PASS or MISS.
import { ratio } from './stats.mjs';

/**
 * @typedef {'floor' | 'limit' | 'value'} GoalBase what the goal compares `after` with (`value`: the figure itself)
 * @typedef {{ of: GoalBase, op: '≥' | '≤' | '<', x: number }} Goal
 * @typedef {{ floor?: number, limit?: number, before?: number, after?: number }} Values
 * @typedef {{ figure: string, values: Values, digits?: number, unit?: string, goals?: Goal[], noRatios?: boolean }} Row
 *   noRatios: the values are ratios already (ratios of them to the floor would say nothing new)
 */

const show = (/** @type {number | undefined} */ n, digits = 0, unit = '') =>
  n !== undefined && Number.isFinite(n)
    ? `${n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit}`
    : '–';

/** @param {Goal} goal @param {Values} v */
function met(goal, v) {
  const after = v.after ?? NaN;
  const base = goal.of === 'value' ? 1 : (v[goal.of] ?? NaN);
  const r = after / base;
  if (!Number.isFinite(r)) return undefined;
  return goal.op === '≥' ? r >= goal.x : goal.op === '≤' ? r <= goal.x : r < goal.x;
}

const goalText = (/** @type {Goal} */ g, unit = '') => {
  const x = Number.isInteger(g.x) ? g.x.toFixed(1) : String(g.x);
  return g.of === 'value' ? `${g.op} ${x}${unit}` : `${g.op} ${x}× ${g.of}`;
};

/** PASS when every goal is met, MISS when one is not, `?` when a figure is missing, empty without a goal. */
export function verdict(/** @type {Row} */ row) {
  if (!row.goals?.length) return '';
  const results = row.goals.map((g) => met(g, row.values));
  if (results.includes(false)) return '**MISS**';
  return results.includes(undefined) ? '?' : 'PASS';
}

/**
 * @param {Row[]} rows
 * @param {{ floor: string, limit: string }} names what the floor and limit columns stand for
 */
export function renderGoalTable(rows, names) {
  const lines = [
    `| figure | floor (${names.floor}) | limit (${names.limit}) | before | after | before ÷ floor | after ÷ floor | before ÷ limit | after ÷ limit | goal (after) | verdict |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const { floor, limit, before, after } = row.values;
    const v = (/** @type {number | undefined} */ n) => show(n, row.digits, row.unit);
    const goals = (row.goals ?? []).map((g) => goalText(g, row.unit)).join(', ');
    const r = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) =>
      row.noRatios ? '' : ratio(a, b);
    lines.push(
      `| ${row.figure} | ${v(floor)} | ${v(limit)} | ${v(before)} | ${v(after)} | ${r(before, floor)} | ${r(after, floor)} | ${r(before, limit)} | ${r(after, limit)} | ${goals} | ${verdict(row)} |`,
    );
  }
  return lines.join('\n');
}
