// `npm run dlq -- …` against a running dlq: list with filters (table and JSON), show, replay one and a bulk
// job with --wait, purge asking for --yes, the audit log with the caller's label. And the real command line
// (npm run dlq) once, to prove the script is wired.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../local/dlq-cli.js';
import { sendDeadLetter } from './helpers/dead-letters.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'cli-test-token-0123456789';
let runtime: RunningRuntime;
let target: Receiver;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dlq-cli-'));
  target = await startReceiver({ status: 202 });
  runtime = await startRuntime({
    ROLE: 'dlq',
    DLQ_ADMIN_TOKEN: token,
    LOG_LEVEL: 'warn',
    DLQ_FILE: join(dir, 'dead-letters.jsonl'),
  });
  for (let i = 0; i < 3; i++)
    await sendDeadLetter(runtime.url, { id: `a-${i}`, type: 'com.example.a', code: '422', dest: target.url });
  await sendDeadLetter(runtime.url, {
    id: 'b-0',
    type: 'com.example.b',
    code: '500',
    dest: target.url,
    data: { b: 0 },
  });
});
after(async () => {
  await runtime?.stop();
  await target?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCli([...argv, '--url', runtime.url, '--token', token, '--caller', 'cli-test'], {
    env: {},
    out: (text) => lines.push(text),
    fetch,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    cwd: dir,
  });
  return { code, out: lines.join('\n') };
}

describe('npm run dlq', () => {
  test('list (table and JSON, with filters) and show', async () => {
    const listed = await cli('list', '--code', '422');
    assert.equal(listed.code, 0);
    const lines = listed.out.split('\n');
    assert.match(lines[0]!, /^id\s+receivedAt\s+eventId\s+type\s+source\s+code\s+destination\s+replayed$/);
    assert.equal(lines.length, 4);
    assert.deepEqual(
      lines.slice(1).map((l) => /\ba-\d\b/.exec(l)?.[0]),
      ['a-2', 'a-1', 'a-0'],
    );
    const json = JSON.parse((await cli('list', '--type', 'com.example.b', '--json')).out);
    assert.equal(json.items.length, 1);
    const shown = JSON.parse((await cli('show', json.items[0].id)).out);
    assert.deepEqual(shown.event.data, { b: 0 });
    assert.equal(shown.error.code, '500');
  });

  test('replay one, a bulk job with --wait, purge needs --yes, the audit log', async () => {
    const [b] = JSON.parse((await cli('list', '--type', 'com.example.b', '--json')).out).items;
    const dry = await cli('replay', b.id, '--dry-run');
    assert.equal(dry.out, `would send event b-0 to ${target.url}`);
    assert.equal(target.requests.length, 0);
    const one = await cli('replay', b.id);
    assert.match(
      one.out,
      new RegExp(`^replayed to ${target.url.replace(/[/.]/g, '\\$&')}: 202 \\(replay id [0-9a-f-]+\\)$`),
    );

    const plan = await cli('replay', '--type', 'com.example.a', '--rate', '100', '--dry-run');
    assert.match(plan.out, /^would replay 3 dead letter\(s\) to destination at 100\/s/);
    const job = await cli('replay', '--type', 'com.example.a', '--rate', '100', '--wait', '--json');
    assert.equal(job.code, 0);
    const done = JSON.parse(job.out);
    assert.equal(done.state, 'done');
    assert.equal(done.replayed, 3);
    assert.equal(target.requests.length, 4);

    const asked = await cli('purge', '--code', '422');
    assert.equal(asked.code, 1, 'without --yes nothing is purged');
    assert.match(asked.out, /^3 dead letter\(s\) would be purged; add --yes to purge them/);
    assert.equal((await cli('purge', '--code', '422', '--yes')).out, 'purged 3 dead letter(s)');
    assert.equal(JSON.parse((await cli('list', '--json')).out).items.length, 1);

    const audit = await cli('audit');
    const rows = audit.out.split('\n').slice(1);
    assert.deepEqual(
      rows.map((r) => r.split(/\s{2,}/)[1]),
      ['purge', 'replay-job-end', 'replay-job', 'replay'],
    );
    for (const row of rows) assert.match(row, /cli-test/);
  });

  test('the npm script runs it; a missing token is a clear error', async () => {
    const run = promisify(execFile);
    const ok = await run('npm', ['run', '--silent', 'dlq', '--', 'list', '--json', '--url', runtime.url], {
      env: { ...process.env, DLQ_ADMIN_TOKEN: token },
      cwd: new URL('..', import.meta.url).pathname,
    });
    assert.equal(JSON.parse(ok.stdout).items.length, 1);
    const failed = await run(
      'npm',
      ['run', '--silent', 'dlq', '--', 'list', '--url', runtime.url, '--state', join(dir, 'none.json')],
      { env: { ...process.env, DLQ_ADMIN_TOKEN: '' }, cwd: new URL('..', import.meta.url).pathname },
    ).catch((err: { code: number; stderr: string }) => err);
    assert.equal((failed as { code: number }).code, 2);
    assert.match((failed as { stderr: string }).stderr, /no admin token: pass --token \(or set DLQ_ADMIN_TOKEN\)/);
  });
});
