// The npm scripts a newcomer runs outside the pipeline: `npm run start:runtime` (one role alone) drains and
// exits when npm gets SIGTERM — no orphaned runtime —, `npm run helm` runs the pinned Helm 4, and `npm run new`
// refuses what it cannot scaffold without touching anything (the scaffold itself: local/checklist.test.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/bundle.js';
import { waitFor } from '../test/helpers/wait.js';
import { isAlive } from './state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;

/** waitFor with the output so far in the failure message. */
const until = <T>(what: string, probe: () => T | undefined, timeoutMs: number, output: () => string): Promise<T> =>
  waitFor(probe, timeoutMs, { what, intervalMs: 50, context: () => `output:\n${output()}` });

/** Direct children of a process (Linux: /proc, through ps). */
const childrenOf = (pid: number) =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);

describe('npm run start:runtime', () => {
  it('SIGTERM to npm reaches the runtime: it drains, exits 0, and nothing is left running', async () => {
    assert.ok(
      existsSync(`${root}dist/knative-events.cjs`),
      'dist/knative-events.cjs is missing: run `npm run build` first',
    );
    const port = await freePort();
    const npm = spawn('npm', ['run', 'start:runtime'], {
      cwd: root,
      env: { ...env, ROLE: 'subscriber', FUNCTION: 'echo', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (c: Buffer) => (output += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // the exit code once npm has closed ({ code } so that a null code still counts as closed)
    let closed: { code: number | null } | undefined;
    npm.once('close', (code) => (closed = { code }));
    try {
      await until(
        'the runtime listening',
        () => (output.includes('"msg":"subscriber listening"') ? true : undefined),
        20_000,
        () => output,
      );
      // What runs under npm (the runtime itself: the script execs node, no shell in between).
      const runtimePids = [...childrenOf(npm.pid as number), ...childrenOf(npm.pid as number).flatMap(childrenOf)];
      assert.ok(runtimePids.length > 0, 'npm has a child');
      npm.kill('SIGTERM');
      // waitFor, not a race with a 20 s timer: a pending timer kept the file's process alive 17 s past its tests
      const { code } = await until(
        'npm exiting after SIGTERM',
        () => closed,
        20_000,
        () => output,
      );
      assert.equal(code, 0, output);
      assert.match(output, /"signal":"SIGTERM".*"msg":"draining"/);
      assert.match(output, /"msg":"stopped"/);
      await until(
        'every process under npm gone',
        () => (runtimePids.every((pid) => !isAlive(pid)) ? true : undefined),
        5_000,
        () => output,
      );
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  });
});

describe('npm run helm', () => {
  it('runs the pinned Helm 4 with the arguments given, and passes its exit code through', () => {
    const version = spawnSync('npm', ['run', '--silent', 'helm', '--', 'version', '--short'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^v4\.1\.\d+/m);
    const bad = spawnSync('npm', ['run', '--silent', 'helm', '--', 'template', 'x', 'no-such-chart'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no-such-chart/);
  });
});

describe('npm run new', () => {
  it('refuses a bad name and an existing function, and changes nothing', () => {
    const registry = readFileSync(`${root}functions/index.ts`, 'utf8');
    const bad = spawnSync(process.execPath, ['build/new-function.mjs', 'Bad_Name'], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    assert.equal(bad.status, 1);
    assert.match(
      bad.stderr,
      /^npm run new: "Bad_Name" is not a function name\nusage: npm run new -- <name> {3}\(lowercase letters, digits and dashes/,
    );
    const taken = spawnSync(process.execPath, ['build/new-function.mjs', 'echo'], { cwd: root, env, encoding: 'utf8' });
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /^npm run new: functions\/echo already exists: pick another name or edit it$/m);
    assert.equal(existsSync(`${root}functions/Bad_Name`), false);
    assert.equal(readFileSync(`${root}functions/index.ts`, 'utf8'), registry);
  });
});
