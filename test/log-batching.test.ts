// Log lines are written once per event-loop turn (runtime/logger.ts): the lines of one turn in one write, in
// the order they were logged, with the same content as a line written on its own; and nothing pending is lost
// when the process ends normally, calls process.exit, dies of an uncaught exception or drains on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { busyWriteWaitMs, createLogger, fdLineSink, maxBatchChars, turnBatchingStream } from '../runtime/logger.js';
import { waitFor } from './helpers/wait.js';

/** A sink that keeps every write, and a schedule the test runs by hand (the end of a "turn"). */
function recorded() {
  const writes: string[] = [];
  const scheduled: Array<() => void> = [];
  const stream = turnBatchingStream({ write: (chunk) => writes.push(chunk) }, (flush) => scheduled.push(flush));
  const endTurn = () => scheduled.splice(0).forEach((flush) => flush());
  return { writes, stream, endTurn, scheduled };
}

test('the lines of one turn go out in one write, in order, at the end of the turn', () => {
  const { writes, stream, endTurn, scheduled } = recorded();
  const log = createLogger({ level: 'info', base: { role: 'subscriber' }, destination: stream });
  for (let i = 0; i < 5; i++) log.info({ eventId: `e${i}` }, 'request');
  assert.equal(writes.length, 0, 'nothing is written before the turn ends');
  assert.equal(scheduled.length, 1, 'one flush scheduled per turn, not one per line');
  endTurn();
  assert.equal(writes.length, 1);
  const lines = (writes[0] as string).split('\n').filter(Boolean);
  assert.deepEqual(
    lines.map((line) => (JSON.parse(line) as { eventId: string }).eventId),
    ['e0', 'e1', 'e2', 'e3', 'e4'],
  );
  log.warn('next turn');
  endTurn();
  assert.equal(writes.length, 2, 'a later turn is a write of its own');
  assert.match(writes[1] as string, /"msg":"next turn"/);
});

test('a batched line has the same content as a line pino writes straight to its stream', () => {
  const { writes, stream, endTurn } = recorded();
  const direct: string[] = [];
  const fixedTime = () => ',"time":"2026-12-01T00:00:00.000Z"';
  const options = { level: 'info', base: { role: 'r' }, messageKey: 'msg', timestamp: fixedTime };
  pino(options, stream).info({ eventId: 'a', nested: { n: 1 } }, 'request');
  pino(options, { write: (line: string) => void direct.push(line) }).info(
    { eventId: 'a', nested: { n: 1 } },
    'request',
  );
  endTurn();
  assert.deepEqual(writes, direct);
});

test('a turn that logs more than the batch limit writes as it goes, still in order', () => {
  const { writes, stream, endTurn } = recorded();
  const log = createLogger({ level: 'info', base: {}, destination: stream });
  const big = 'x'.repeat(1000);
  const count = Math.ceil((2 * maxBatchChars) / 1000) + 5;
  for (let i = 0; i < count; i++) log.info({ i, big }, 'line');
  assert.ok(writes.length >= 2, `written before the end of the turn (${writes.length} writes)`);
  endTurn();
  const order = writes
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { i: number }).i);
  assert.deepEqual(
    order,
    Array.from({ length: count }, (_, i) => i),
  );
});

test("logger.flush(cb) writes what is pending before cb (main.ts's SIGTERM drain calls it)", async () => {
  const { writes, stream } = recorded();
  const log = createLogger({ level: 'info', base: {}, destination: stream });
  log.info('draining');
  log.info('stopped');
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  assert.equal(writes.length, 1);
  assert.match(writes[0] as string, /"msg":"draining"[^\n]*\n[^\n]*"msg":"stopped"/);
});

const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
const loggerModule = fileURLToPath(new URL('../runtime/logger.ts', import.meta.url));

/** Runs a script with the real stdout logger; returns its exit code and the lines it wrote. */
async function runWithStdoutLogger(
  body: string,
  afterStart?: (child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; lines: Array<Record<string, unknown>> }> {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule)};
const log = createLogger({ level: 'info', base: {} });
${body}`;
  const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  afterStart?.(child);
  const exitCode = await code;
  await waitFor(() => child.stdout.readableEnded || child.stdout.destroyed, 5000, { what: 'the end of stdout' });
  return {
    code: exitCode,
    lines: out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const fiveLines = "for (let i = 0; i < 5; i++) log.info({ i }, 'line');";

test('lines still pending are written when the process ends on its own', async () => {
  const { code, lines } = await runWithStdoutLogger(fiveLines);
  assert.equal(code, 0);
  assert.deepEqual(
    lines.map((l) => l.i),
    [0, 1, 2, 3, 4],
  );
});

test('lines still pending are written when the process calls process.exit', async () => {
  const { code, lines } = await runWithStdoutLogger(`${fiveLines}\nprocess.exit(3);`);
  assert.equal(code, 3);
  assert.equal(lines.length, 5);
});

test('lines still pending are written when the process dies of an uncaught exception', async () => {
  const { code, lines } = await runWithStdoutLogger(`${fiveLines}\nthrow new Error('boom');`);
  assert.equal(code, 1);
  assert.equal(lines.length, 5);
});

test('on SIGTERM, the drain writes every line, the last one included (as main.ts stops)', async () => {
  const body = `process.on('SIGTERM', () => {
  log.info('draining');
  log.info('stopped');
  log.flush(() => process.exit(0));
});
log.info('ready');
setInterval(() => {}, 1000);`;
  const { code, lines } = await runWithStdoutLogger(body, (child) => {
    let seen = '';
    child.stdout?.on('data', (c: Buffer) => {
      seen += c.toString();
      if (seen.includes('"ready"')) child.kill('SIGTERM');
    });
  });
  assert.equal(code, 0);
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['ready', 'draining', 'stopped'],
  );
});

/** A write(2) stand-in: takes at most `most` bytes a call; the first calls fail with the codes in `failures` (undefined: not that call). */
function recordingWrite(most: number, failures: (string | undefined)[] = []) {
  const written: number[] = [];
  const write = (_fd: number, data: string | Uint8Array, offset = 0, length?: number) => {
    const code = failures.shift();
    if (code !== undefined) throw Object.assign(new Error(code), { code });
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const n = Math.min(most, length ?? bytes.length - offset);
    written.push(...bytes.subarray(offset, offset + n));
    return n;
  };
  return { write, text: () => Buffer.from(written).toString('utf8') };
}

test('stdout batches: every byte written in order when the pipe takes a few bytes at a time', () => {
  const { write, text } = recordingWrite(5);
  const batch = '{"msg":"ü and 日本, split mid-character"}\n'.repeat(3);
  fdLineSink(1, write, () => assert.fail('no wait without EAGAIN')).write(batch);
  assert.equal(text(), batch);
  const whole = recordingWrite(1 << 20);
  fdLineSink(1, whole.write).write(batch);
  assert.equal(whole.text(), batch, 'written in one go when the pipe takes it all');
});

test('stdout batches: a full pipe (EAGAIN, EBUSY) is waited for, then written; another error is thrown', () => {
  const waits: number[] = [];
  const { write, text } = recordingWrite(3, ['EAGAIN', 'EBUSY']);
  const batches = fdLineSink(1, write, (ms) => waits.push(ms));
  batches.write('line\n');
  assert.deepEqual(waits, [busyWriteWaitMs, busyWriteWaitMs]);
  assert.equal(text(), 'line\n');
  // The pipe takes 3 bytes, is full once (the rest waits), then takes the rest from where it stopped.
  const midway = recordingWrite(3, [undefined, 'EAGAIN']);
  fdLineSink(1, midway.write, (ms) => waits.push(ms)).write('ü日本\n');
  assert.equal(midway.text(), 'ü日本\n');
  assert.deepEqual(waits, [busyWriteWaitMs, busyWriteWaitMs, busyWriteWaitMs]);
  const broken = recordingWrite(1024, ['EPIPE']);
  assert.throws(() => fdLineSink(1, broken.write, () => {}).write('line\n'), { code: 'EPIPE' });
});
