// Children restarted with backoff when they crash, drained with SIGTERM on stop; and `npm run send`'s request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createConsole } from './log.js';
import { buildRequest, SendError } from './send.js';
import { writeState } from './state.js';
import { waitFor } from '../test/helpers/wait.js';
import { restartDelayMs, supervise } from './supervisor.js';

describe('supervise', () => {
  it('doubles the restart delay up to the maximum', () => {
    const policy = { initialDelayMs: 500, maxDelayMs: 3000, healthyAfterMs: 10_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => restartDelayMs(policy, n)),
      [500, 1000, 2000, 3000, 3000],
    );
  });

  it('restarts a crashing child and stops a running one with SIGTERM', async () => {
    const lines: string[] = [];
    const log = createConsole({ level: 'debug', colour: false, write: (l) => lines.push(l) }).component('svc');
    // Crashes on its first two runs (counted in a file), then stays up and exits 0 on SIGTERM.
    const dir = mkdtempSync(join(tmpdir(), 'sup-'));
    const script = `const fs=require('fs');const f=${JSON.stringify(join(dir, 'runs'))};const n=(fs.existsSync(f)?Number(fs.readFileSync(f,'utf8')):0)+1;fs.writeFileSync(f,String(n));if(n<3)process.exit(3);process.on('SIGTERM',()=>{process.stdout.write('drained\\n',()=>process.exit(0))});process.stdout.write('ready '+n+'\\n');setInterval(()=>{},1000);`;
    const s = supervise({
      command: process.execPath,
      args: ['-e', script],
      env: {},
      cwd: dir,
      spawn: (c, a, o) => spawn(c, a, { ...o, stdio: ['ignore', 'pipe', 'pipe'] }),
      log,
      policy: { initialDelayMs: 20, maxDelayMs: 100, healthyAfterMs: 60_000 },
    });
    await waitFor(() => lines.some((l) => l.includes('ready 3')), 10_000, {
      what: "the third run's 'ready 3'",
      intervalMs: 20,
      context: () => lines.join('\n'),
    });
    assert.equal(s.restarts(), 2);
    assert.equal(lines.filter((l) => l.includes('exited unexpectedly (code 3); restarting in')).length, 2);
    const pid = s.pid();
    assert.equal(typeof pid, 'number');
    await s.stop(5000);
    assert.ok(
      lines.some((l) => l.includes('drained')),
      lines.join('\n'),
    );
    assert.equal(s.pid(), undefined);
    assert.equal(s.restarts(), 2, 'a stop is not a crash: no restart');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('npm run send', () => {
  it('posts a binary CloudEvent to the running handler found through the state file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'send-'));
    const stateFile = join(dir, 'state.json');
    writeState(stateFile, {
      pid: process.pid,
      startedAt: '',
      outDir: dir,
      handlerUrl: 'http://127.0.0.1:9/',
      brokers: [],
      services: [
        { short: 'handler', name: 'h', role: 'handler', function: undefined, url: 'http://127.0.0.1:9/', pid: 1 },
      ],
      sinks: [],
      dlqFiles: [],
    });
    const req = buildRequest(
      ['--type', 'com.example.trade', '--source', '/me', '--data', '{"a":1}', '--ext', 'partitionkey=k=1'],
      { stateFile, newId: () => 'id-1' },
    );
    assert.notEqual(req, 'help');
    if (req === 'help') return;
    assert.equal(req.url, 'http://127.0.0.1:9/');
    assert.equal(req.body, '{"a":1}');
    assert.equal(req.headers['ce-type'], 'com.example.trade');
    assert.equal(req.headers['ce-id'], 'id-1');
    assert.equal(req.headers['ce-partitionkey'], 'k=1');
    assert.throws(
      () => buildRequest(['--type', 't', '--source', 's', '--data', '{bad'], { stateFile, newId: () => 'x' }),
      /--data is not valid JSON/,
    );
    assert.throws(
      () =>
        buildRequest(['--type', 't', '--source', 's', '--data', '{}'], {
          stateFile: join(dir, 'none.json'),
          newId: () => 'x',
        }),
      (e: Error) =>
        e instanceof SendError && /no pipeline is running .* start it with `npm start` first/.test(e.message),
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
