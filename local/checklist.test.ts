// The newcomer's checklist: README.md's commands, run as a user runs them (npm, sh, curl), in a copy of this
// working tree (so `npm run new` and `npm start`'s build leave the repository untouched):
//   1. `npm run new -- hello`, its unit test, and its printed values snippet saved as values/hello.yaml;
//   2. one pipeline, `npm start -- values/local.yaml values/hello.yaml` (the scaffold's own command), serving
//      the README walkthrough command by command, the dlq admin listing with the token the table printed, and
//      hello receiving an event; Ctrl-C stops it;
//   3. `npm start -- values/prod.yaml`: without secrets it stops before starting anything, naming what is
//      missing; with a copy of values/local-secrets.example.yaml it reaches ready.
// Ports are the only change to the README's commands: `--port 0` (any free ports), and the README's
// http://localhost:8080/ becomes the handler's actual URL, since other pipelines may run on this machine.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../test/helpers/wait.js';
import { readState, type RunState } from './state.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'checklist-'));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
// Without NODE_TEST_CONTEXT: a test run started from here (the scaffold's unit test) reports as in a terminal,
// not to this test runner.
const { NODE_TEST_CONTEXT: _ctx, ...inherited } = process.env;
const env = { ...inherited, NO_COLOR: '1', FORCE_COLOR: '0' };

/** waitFor with the output so far in the failure message. */
const until = <T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs: number,
  output: () => string = () => '',
): Promise<T> =>
  waitFor(probe, timeoutMs, {
    what,
    intervalMs: 100,
    context: () => `output:\n${output().slice(-4000)}`,
    errors: 'throw',
  });

/** Runs one shell command in the copy, as typed in a terminal; resolves with its output, or fails at the deadline. */
function sh(command: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`\`${command}\` did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running command (npm start) in its own process group, so Ctrl-C can be sent the way a terminal does. */
class Running {
  output = '';
  readonly child: ChildProcess;
  readonly closed: Promise<number | null>;
  constructor(command: string) {
    // npm itself, not a shell around it: a terminal's Ctrl-C reaches npm and what it runs, not an extra sh.
    const [cmd, ...args] = command.split(' ');
    this.child = spawn(cmd as string, args, { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.closed = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }
  /** Ctrl-C: SIGINT to the whole process group; resolves with the exit code, or fails at the deadline. */
  async interrupt(timeoutMs: number): Promise<number | null> {
    process.kill(-(this.child.pid as number), 'SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(
          () => reject(new Error(`not stopped ${timeoutMs} ms after Ctrl-C:\n${this.output.slice(-3000)}`)),
          timeoutMs,
        )),
    );
    try {
      return await Promise.race([this.closed, late]);
    } finally {
      clearTimeout(timer);
    }
  }
  /** Like `until`, but fails at once when the command has exited. */
  waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
    return until(
      what,
      () => {
        if (this.child.exitCode !== null || this.child.signalCode !== null)
          throw new Error(
            `the command exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.output.slice(-4000)}`,
          );
        return probe();
      },
      timeoutMs,
      () => this.output,
    );
  }
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null)
      process.kill(-(this.child.pid as number), 'SIGKILL');
  }
}

/** The copy: every file git tracks or would track (others' uncommitted work included), dependencies linked. */
function copyWorkingTree(): void {
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    encoding: 'utf8',
  })
    .stdout.split('\0')
    .filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(repo, file))) continue; // deleted in the working tree, not yet in the index
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(repo, file), join(copy, file));
  }
  // A repository of its own, as a clone is: the runner asks git whether a secrets file is ignored.
  spawnSync('git', ['init', '-q'], { cwd: copy });
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
  // The pinned Helm is shared: `npm start` in the copy fetches it into the repository's .tools/ if missing.
  mkdirSync(join(repo, '.tools'), { recursive: true });
  symlinkSync(join(repo, '.tools'), join(copy, '.tools'));
}

/** Shell commands of a README code block: comments dropped, `\` continuations joined. */
function commandsOf(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s{2,}#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function readmeBlockAfter(marker: string): string[] {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README.md has "${marker}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block?.[1], `a sh block follows "${marker}" in README.md`);
  return commandsOf(block[1]);
}

const jsonLines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
const logLine = (output: string, service: string, pattern: string) =>
  new RegExp(`^${service}\\s+│ .*${pattern}`, 'm').test(output);

before(() => copyWorkingTree());
after(() => rmSync(copy, { recursive: true, force: true }));

describe('a new function, the walkthrough and the dlq admin API on one pipeline', () => {
  let scaffold: string;
  let pipeline: Running;
  let state: RunState;
  const handlerUrl = () => state.handlerUrl as string;

  before(async () => {
    const made = await sh('npm run new -- hello');
    assert.equal(made.code, 0, made.stderr);
    scaffold = made.stdout;
    const snippet = /^--- values\/hello\.yaml\n([\s\S]*?)^---$/m.exec(scaffold)?.[1];
    assert.ok(snippet, `npm run new printed the values snippet:\n${scaffold}`);
    writeFileSync(join(copy, 'values', 'hello.yaml'), snippet);
    const start = /^\s+(npm start -- values\/local\.yaml values\/hello\.yaml)$/m.exec(scaffold)?.[1];
    assert.ok(start, 'npm run new printed the npm start command');
    pipeline = new Running(`${start} --port 0`);
    state = await pipeline.waitFor('the state file', () => readState(join(copy, '.local-run', 'state.json')), 90_000);
    await pipeline.waitFor(
      'the start-up table',
      () => (pipeline.output.includes('Ctrl-C stops everything') ? true : undefined),
      20_000,
    );
  });
  after(() => pipeline?.kill());

  it('npm run new scaffolded a typed function with a passing unit test, and the registry knows it', async () => {
    assert.match(
      readFileSync(join(copy, 'functions', 'hello', 'index.ts'), 'utf8'),
      /const hello: EventFunction<Greeting> = async/,
    );
    assert.match(
      readFileSync(join(copy, 'functions', 'index.ts'), 'utf8'),
      /'hello': \(\) => import\('\.\/hello\/index\.js'\)/,
    );
    const testCommand = /^\s+(node test\/run-tests\.mjs functions\/hello)$/m.exec(scaffold)?.[1];
    assert.ok(testCommand, 'npm run new printed how to test it');
    const run = await sh(testCommand);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^# pass 2$/m);
    assert.match(run.stdout, /^# fail 0$/m);
  });

  it('the start-up table lists every service, ready, and a first event per trigger', () => {
    assert.deepEqual(state.services.map((s) => `${s.short}:${s.role}`).sort(), [
      'dlq:dlq',
      'echo:subscriber',
      'handler:handler',
      'hello:subscriber',
      'transformer:sink-forwarder',
    ]);
    assert.doesNotMatch(pipeline.output, /not ready/);
    assert.match(
      pipeline.output,
      /\n {2}npm run send -- --type com\.example\.hello --source \/local\/try --data '\{"name":"Ada"\}'\n/,
    );
  });

  it('every command of the README walkthrough does what its comment says', async () => {
    let badId = '';
    const commands = readmeBlockAfter('the walkthrough');
    const checks: Array<[RegExp, (command: string) => Promise<void>]> = [
      [
        /^curl .*'ce_type: event-subscriber-type'.* http:\/\/localhost:8080\/$/,
        async (command) => {
          const r = await sh(command.replace('http://localhost:8080/', handlerUrl()));
          assert.equal(r.code, 0, r.stderr);
          assert.equal(JSON.parse(r.stdout).type, 'event-subscriber-type', 'the handler answers 202 with the event');
          await until(
            'echo logging the seed event',
            () =>
              logLine(pipeline.output, 'echo', 'DEBUG echo \\{.*"event_data_1":"data value 1"') ? true : undefined,
            15_000,
            () => pipeline.output,
          );
        },
      ],
      [
        /^npm run send -- --type com\.example\.trade .*"trade_id":"T-1"/,
        async (command) => {
          const r = await sh(command);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /^202 Accepted ← POST /m);
        },
      ],
      [
        /^cat \.local-run\/kafka\/trades-normalized\.jsonl$/,
        async (command) => {
          await until(
            'the trade in the sink file',
            () =>
              jsonLines(join(copy, '.local-run', 'kafka', 'trades-normalized.jsonl')).length > 0 ? true : undefined,
            15_000,
            () => pipeline.output,
          );
          const record = JSON.parse((await sh(command)).stdout.split('\n')[0] as string) as {
            topic: string;
            value: string;
            headers: Record<string, string>;
          };
          assert.equal(record.topic, 'trades-normalized');
          assert.equal(record.headers.ce_type, 'com.example.trade.normalized');
          assert.deepEqual(JSON.parse(record.value), {
            tradeId: 'T-1',
            symbol: 'ACME',
            quantity: 10,
            price: 12.5,
            side: 'BUY',
            currency: 'USD',
            tradedAt: '2026-11-25T09:30:00.000Z',
            venue: 'UNKNOWN',
            settled: false,
          });
        },
      ],
      [
        /^npm run send -- --type com\.example\.trade .*'\{"trade_id":"T-2"\}'$/,
        async (command) => {
          const r = await sh(command);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /^202 Accepted ← POST /m, 'the handler accepts it: the 422 comes later');
          badId = /\(ce-id ([^)]+)\)/.exec(r.stdout)?.[1] ?? '';
          assert.notEqual(badId, '', r.stdout);
          await until(
            "the transformer's 422 in its log",
            () => (logLine(pipeline.output, 'transformer', '(422|cannot be mapped)') ? true : undefined),
            15_000,
            () => pipeline.output,
          );
        },
      ],
      [
        /^cat \.local-run\/volumes\/dlq\/dlq-data\/dead-letters\.jsonl$/,
        async (command) => {
          const file = join(copy, '.local-run', 'volumes', 'dlq', 'dlq-data', 'dead-letters.jsonl');
          await until(
            'the dead letter',
            () =>
              jsonLines(file).some((l) => (l.event as { id?: string } | undefined)?.id === badId) ? true : undefined,
            15_000,
            () => pipeline.output,
          );
          const dead = (await sh(command)).stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { event: Record<string, string> })
            .find((l) => l.event.id === badId);
          assert.equal(dead?.event.type, 'com.example.trade');
          assert.equal(dead?.event.knativeerrorcode, '422');
        },
      ],
    ];
    assert.ok(commands.length > 0, 'the walkthrough has commands');
    for (const command of commands) {
      const check = checks.find(([pattern]) => pattern.test(command));
      assert.ok(check, `README walkthrough command with no check here (add one): ${command}`);
      await check[1](command);
    }
    assert.equal(commands.length, checks.length, 'every check ran against a README command');
  });

  it('the dlq admin API lists the dead letter with the token the table printed', async () => {
    const command =
      /admin API {2}(curl -H 'Authorization: Bearer [0-9a-f]{32}' http:\/\/127\.0\.0\.1:\d+\/dead-letters)$/m.exec(
        pipeline.output,
      )?.[1];
    assert.ok(command, 'the table prints the admin API command with a generated token');
    const r = await sh(command);
    const listing = JSON.parse(r.stdout) as { success: boolean; items: unknown[] };
    assert.equal(listing.success, true, r.stdout);
    assert.ok(
      listing.items.some(
        (item) => JSON.stringify(item).includes('"com.example.trade"') && JSON.stringify(item).includes('422'),
      ),
      r.stdout,
    );
    const refused = await sh(command.replace(/Bearer [0-9a-f]{32}/, 'Bearer wrong-token-0123456789'));
    assert.equal(JSON.parse(refused.stdout).success, false);
  });

  it('the table prints the dead-letter console URL, and the dlq serves the page there', async () => {
    const url = /^\s+console {4}(http:\/\/127\.0\.0\.1:\d+\/dead-letters\/ui)$/m.exec(pipeline.output)?.[1];
    assert.ok(url, 'the table prints the console URL');
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>[^<]*[Dd]ead/);
  });

  it("the pipeline delivers to the new function: the scaffold's send command reaches hello, and its reply is published", async () => {
    const send = /^\s+(npm run send -- --type com\.example\.hello .*)$/m.exec(scaffold)?.[1];
    assert.ok(send, 'npm run new printed a send command');
    const r = await sh(send);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^202 Accepted/m);
    await until(
      'hello greeting Ada',
      () => (logLine(pipeline.output, 'hello', 'greeting \\{.*"name":"Ada"') ? true : undefined),
      15_000,
      () => pipeline.output,
    );
    await until(
      'the reply published',
      () =>
        logLine(
          pipeline.output,
          'broker',
          'reply com\\.example\\.hello\\.greeted from \\S+hello published into the broker',
        )
          ? true
          : undefined,
      15_000,
      () => pipeline.output,
    );
  });

  it('Ctrl-C stops everything and removes the state file', async () => {
    assert.equal(await pipeline.interrupt(45_000), 0, pipeline.output.slice(-2000));
    assert.match(pipeline.output.trimEnd(), /runner\s+│ \S+ INFO {2}stopped$/);
    assert.equal(existsSync(join(copy, '.local-run', 'state.json')), false);
  });
});

describe('npm start -- values/prod.yaml', () => {
  const [copySecrets, startProd] = readmeBlockAfter('Every values file runs here');

  it('without secrets: stops before starting anything, with one message naming what is missing and how to supply it', async () => {
    const r = await sh('npm start -- values/prod.yaml --port 0', 90_000);
    assert.equal(r.code, 1);
    const message = r.stderr.slice(r.stderr.indexOf('npm start: '));
    assert.match(
      message,
      /^npm start: values\/prod\.yaml needs secrets that no local secrets file was given for \(nothing was started\):\n/,
    );
    assert.match(message, /the Vault agent writes the file app/);
    assert.match(message, /HANDLER_AUTH=hmac/);
    assert.match(message, /mkdir -p \.local-run && cp values\/local-secrets\.example\.yaml \.local-run\/secrets\.yaml/);
    assert.doesNotMatch(r.stdout + r.stderr, /listening/);
  });

  describe('with a copy of values/local-secrets.example.yaml', () => {
    let pipeline: Running;
    before(async () => {
      assert.equal(copySecrets, 'mkdir -p .local-run && cp values/local-secrets.example.yaml .local-run/secrets.yaml');
      assert.equal(startProd, 'npm start -- values/prod.yaml --secrets .local-run/secrets.yaml');
      assert.equal((await sh(copySecrets)).code, 0);
      pipeline = new Running(`${startProd} --port 0`);
      await pipeline.waitFor(
        'the start-up table',
        () => (pipeline.output.includes('Ctrl-C stops everything') ? true : undefined),
        90_000,
      );
    });
    after(() => pipeline?.kill());

    it('reaches ready: every service up and a signed first event suggested', () => {
      const state = readState(join(copy, '.local-run', 'state.json'));
      assert.deepEqual(state?.services.map((s) => s.short).sort(), ['dlq', 'handler', 'transformer']);
      // A crash-looping service (a secret the checks missed, say) is reported "not ready" after 20 s.
      assert.doesNotMatch(pipeline.output, /not ready/);
      assert.match(pipeline.output, /npm run send -- --sign --type com\.example\.trade/);
    });

    it('npm run send -- --sign: the suggested signed event is accepted and lands in the sink', async () => {
      const send = /^\s+(npm run send -- --sign --type com\.example\.trade .*)$/m.exec(pipeline.output)?.[1];
      assert.ok(send, 'the table suggests a signed send');
      const sinkFile = join(copy, '.local-run', 'kafka', 'trades-normalized.jsonl');
      const before = jsonLines(sinkFile).length;
      const r = await sh(send);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^202 Accepted/m);
      assert.match(r.stdout, /accepted by the handler; follow it in the logs/);
      await pipeline.waitFor(
        'the signed trade in the sink',
        () => (jsonLines(sinkFile).length > before ? true : undefined),
        15_000,
      );
      // The same request unsigned is refused: the signature is what let it in.
      const unsigned = await sh(send.replace(' --sign', ''));
      assert.notEqual(unsigned.code, 0);
      assert.match(unsigned.stdout, /^401 /m);
    });

    it('Ctrl-C stops it', async () => {
      assert.equal(await pipeline.interrupt(45_000), 0, pipeline.output.slice(-2000));
    });
  });
});
