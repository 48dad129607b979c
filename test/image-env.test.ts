// The two ways to build the image (build/Dockerfile with a Docker engine, build/buildah-image.sh without one)
// give the runtime the same environment: each final stage of the Dockerfile and the buildah script set the
// same variables to the same values (PORT, NODE_ENV, GLIBC_TUNABLES: README.md, Bounds).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** `ENV A=1 B=2` lines of each stage of a Dockerfile, by stage name. */
function dockerfileEnv(text: string): Map<string, Record<string, string>> {
  const stages = new Map<string, Record<string, string>>();
  let stage = '';
  for (const line of text.split('\n')) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from) stages.set((stage = from[1] as string), {});
    const env = /^ENV\s+(.*)$/.exec(line);
    if (env && stage)
      for (const pair of (env[1] as string).trim().split(/\s+/))
        (stages.get(stage) as Record<string, string>)[pair.slice(0, pair.indexOf('='))] = pair.slice(
          pair.indexOf('=') + 1,
        );
  }
  return stages;
}

/** `--env A=1` flags of the buildah script. */
function buildahEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, pair] of text.matchAll(/--env\s+(\S+)/g))
    out[pair!.slice(0, pair!.indexOf('='))] = pair!.slice(pair!.indexOf('=') + 1);
  return out;
}

test('both image targets and the buildah image set the same environment, huge pages for malloc included', () => {
  const stages = dockerfileEnv(read('build/Dockerfile'));
  const buildah = buildahEnv(read('build/buildah-image.sh'));
  assert.equal(buildah.GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1');
  assert.equal(buildah.PORT, '8080');
  for (const target of ['bundle', 'executable']) assert.deepEqual(stages.get(target), buildah, `the ${target} target`);
});

test('the memory benchmark runs the handler with the image’s GLIBC_TUNABLES', () => {
  const bench = read('bench/memory-load.mjs');
  const { GLIBC_TUNABLES } = buildahEnv(read('build/buildah-image.sh'));
  assert.ok(bench.includes(`GLIBC_TUNABLES: '${GLIBC_TUNABLES}'`), 'bench/memory-load.mjs sets what the image sets');
});
