// build/launch.mjs: `npm start`, `npm run send`, `npm run dlq` and `npm run trace` run their entry point from a
// bundle cached by content. What must hold: a changed source is never run stale, an unchanged one is not rebuilt,
// and the bundle behaves as the source run directly (its import.meta, its process.argv, its stack traces).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureLaunchBundle } from '../build/launch.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const launcher = join(repo, 'build', 'launch.mjs');

/** A tree of its own: local/hello.ts importing local/greeting.ts, with the repository's packages. */
function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'launch-'));
  mkdirSync(join(root, 'local'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'tsconfig.json'), '{}');
  writeFileSync(join(root, 'local', 'greeting.ts'), "export const greeting: string = 'hello';\n");
  writeFileSync(
    join(root, 'local', 'hello.ts'),
    [
      "import { greeting } from './greeting.js';",
      "const where = new URL('..', import.meta.url).pathname;",
      'if (process.argv[2] === "--throw") throw new Error("thrown on purpose");',
      'console.log(JSON.stringify({ greeting, where, argv1: process.argv[1], args: process.argv.slice(2) }));',
      '',
    ].join('\n'),
  );
  return root;
}

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('build/launch.mjs', () => {
  it('builds once, reuses the bundle while the sources are unchanged, and rebuilds on any change', async () => {
    const root = tree();
    roots.push(root);
    const cache = join(root, 'cache');
    const first = await ensureLaunchBundle(root, 'local/hello.ts', cache);
    assert.equal(first.built, true);
    const again = await ensureLaunchBundle(root, 'local/hello.ts', cache);
    assert.deepEqual(again, { bundle: first.bundle, built: false });
    // an imported file (not the entry) changes: the next launch runs the new bytes
    writeFileSync(join(root, 'local', 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
    const changed = await ensureLaunchBundle(root, 'local/hello.ts', cache);
    assert.equal(changed.built, true);
    assert.notEqual(changed.bundle, first.bundle);
    const run = spawnSync(process.execPath, [changed.bundle], { encoding: 'utf8' });
    assert.equal(JSON.parse(run.stdout).greeting, 'bonjour', run.stderr);
    // earlier bundles go once a minute old (a launch may still be about to import the previous one)
    assert.equal(existsSync(first.bundle), true, 'a bundle just replaced stays for now');
    utimesSync(first.bundle, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    writeFileSync(join(root, 'local', 'greeting.ts'), "export const greeting: string = 'hola';\n");
    const third = await ensureLaunchBundle(root, 'local/hello.ts', cache);
    assert.equal(existsSync(first.bundle), false, 'the bundle replaced two minutes ago is removed');
    assert.equal(existsSync(changed.bundle), true);
    assert.equal(existsSync(third.bundle), true);
  });

  it('runs the entry as if from its source: import.meta.url, process.argv and .ts stack lines', () => {
    // through the launcher of the repository, on one of its own entry points: `npm run send -- --help`
    const send = spawnSync(process.execPath, [launcher, 'local/send.ts', '--help'], { cwd: repo, encoding: 'utf8' });
    const direct = spawnSync(process.execPath, ['--import', 'tsx', 'local/send.ts', '--help'], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(send.status, direct.status, send.stderr);
    assert.match(send.stdout, /^usage: npm run send -- --type TYPE/);
    assert.equal(send.stdout, direct.stdout);
  });

  it('gives the entry its source path as process.argv[1], the arguments after it, and the source location', async () => {
    const root = tree();
    roots.push(root);
    // the launcher in that tree, so that it finds the tree as its root
    mkdirSync(join(root, 'build'));
    symlinkSync(launcher, join(root, 'build', 'launch.mjs'));
    const run = spawnSync(
      process.execPath,
      ['--preserve-symlinks-main', join(root, 'build', 'launch.mjs'), 'local/hello.ts', 'a', '--b'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      greeting: 'hello',
      where: `${root}/`,
      argv1: join(root, 'local', 'hello.ts'),
      args: ['a', '--b'],
    });
    const thrown = spawnSync(
      process.execPath,
      ['--preserve-symlinks-main', join(root, 'build', 'launch.mjs'), 'local/hello.ts', '--throw'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    assert.notEqual(thrown.status, 0);
    assert.match(thrown.stderr, /thrown on purpose/);
    assert.match(thrown.stderr, /local\/hello\.ts:3:\d+/, 'the stack names the .ts line');
  });
});
