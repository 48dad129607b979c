// Makes sure dist/knative-events.cjs exists and is newer than the runtime and function sources it is built
// from; rebuilds it with build/build.mjs when allowed, else says what to run.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RunnerError } from './errors.js';
import type { SpawnSync } from './render.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (/\.(ts|json|mjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

export function bundleState(root: string, bundle: string): 'fresh' | 'missing' | 'outdated' {
  if (!existsSync(bundle)) return 'missing';
  const sources = Math.max(newestMtime(join(root, 'runtime')), newestMtime(join(root, 'functions')));
  return statSync(bundle).mtimeMs >= sources ? 'fresh' : 'outdated';
}

export function ensureBundle(
  root: string,
  bundle: string,
  allowBuild: boolean,
  spawn: SpawnSync,
  say: (m: string) => void,
): void {
  const state = bundleState(root, bundle);
  if (state === 'fresh') return;
  if (!allowBuild) {
    if (state === 'missing')
      throw new RunnerError('dist/knative-events.cjs is missing: run `npm run build` (or start without --no-build)');
    say('dist/knative-events.cjs is older than the sources (--no-build: running it anyway)');
    return;
  }
  say(`dist/knative-events.cjs is ${state}: building it (npm run build)`);
  const r = spawn(process.execPath, ['build/build.mjs'], { cwd: root, env: process.env });
  if (r.status !== 0 || !existsSync(bundle)) {
    const why =
      (r.stderr || r.stdout || r.error?.message || '').split('\n').find((l) => l.trim() !== '') ??
      `exit code ${r.status}`;
    throw new RunnerError(
      `the runtime bundle does not build (${why.trim()}): run \`npm run build\` to see the full error`,
    );
  }
}
