// Several schema mistakes checked in one `helm template`: values.schema.json is validated as a whole before any
// template runs, and both Helm 3 and Helm 4 list every violation, one entry per line. A fixture is checked in the
// batch only when one of those lines matches all of its `# expect:` lines and no other fixture of the batch matches
// that line too, so a message another fixture caused cannot pass for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The paths a values file sets, down to its scalars and lists (`services.handler.role`). */
export function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, v]) => leafPaths(v, [...prefix, key]));
}

const overlaps = (a: string[], b: string[]): boolean => {
  const n = Math.min(a.length, b.length);
  return a.slice(0, n).every((k, i) => k === b[i]);
};

/**
 * The fixtures that can share one render: helm merges `-f` files in order, so a fixture setting a path another one
 * sets (or sets inside) would be overridden and never checked; it is left out of the batch (rendered alone).
 */
export function batchable(dir: string, fixtures: string[]): string[] {
  const taken: string[][] = [];
  const batch: string[] = [];
  for (const f of fixtures) {
    const paths = leafPaths(parse(readFileSync(join(dir, f), 'utf8')));
    if (paths.some((p) => taken.some((t) => overlaps(p, t)))) continue;
    taken.push(...paths);
    batch.push(f);
  }
  return batch;
}

/** Whether one line of the batch's errors is this fixture's: it matches all its expectations, and only its own. */
export function foundInBatch(stderr: string, fixture: string, expected: Map<string, RegExp[]>): boolean {
  const matchesAll = (line: string, res: RegExp[]) => res.every((re) => re.test(line));
  const mine = expected.get(fixture) ?? [];
  const others = [...expected].filter(([f]) => f !== fixture).map(([, res]) => res);
  return stderr
    .split('\n')
    .some((line) => matchesAll(line, mine) && !others.some((res) => matchesAll(line, res)));
}
