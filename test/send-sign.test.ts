// `npm run send -- --sign`: the request it builds is accepted by a real handler with HANDLER_AUTH=hmac, with
// the key given on the command line, in the environment, or read from the running pipeline's secret files.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildRequest, SendError, type SendRequest } from '../local/send.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const secrets = {
  get: (name: string) => (name === 'HANDLER_AUTH_KEYS' ? 'pipeline-key-0001,second-key-0002' : undefined),
};
let broker: Receiver;
let handler: RunningRuntime;
let dir: string;
let stateFile: string;
before(async () => {
  broker = await startReceiver();
  handler = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'hmac' }, { secrets });
  dir = mkdtempSync(join(tmpdir(), 'send-sign-'));
  mkdirSync(join(dir, 'secrets'));
  // What the local runner writes from the local secrets file (local/secrets.ts writeAgentFiles).
  writeFileSync(join(dir, 'secrets', 'app'), 'HANDLER_AUTH_KEYS="pipeline-key-0001,second-key-0002"\n');
  stateFile = join(dir, 'state.json');
  const service = {
    short: 'handler',
    name: 'x-handler',
    role: 'handler',
    function: undefined,
    url: handler.url,
    pid: undefined,
  };
  writeFileSync(
    stateFile,
    JSON.stringify({
      pid: process.pid,
      startedAt: '',
      outDir: dir,
      handlerUrl: handler.url,
      brokers: [],
      services: [service],
      sinks: [],
      dlqFiles: [],
    }),
  );
});
after(async () => {
  await handler.stop();
  await broker.close();
});

const args = ['--type', 'com.example.deposit', '--source', '/cli', '--data', '{"amount":1}'];
let ids = 0;
const build = (extra: string[], env: Record<string, string> = {}) =>
  buildRequest([...args, ...extra], { stateFile, newId: () => `id-${++ids}`, env }) as SendRequest;
const send = (req: SendRequest) => fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });

test("--sign with the key from the running pipeline's secret files is accepted", async () => {
  const req = build(['--sign']);
  assert.match(req.headers['x-signature'] ?? '', /^sha256=[0-9a-f]{64}$/);
  assert.match(req.headers['x-signature-timestamp'] ?? '', /^\d{10}$/);
  assert.equal((await send(req)).status, 202);
  assert.equal(broker.requests.at(-1)?.event?.type, 'com.example.deposit');
});

test('--key, then HANDLER_AUTH_KEY, take precedence; a wrong key is refused by the handler', async () => {
  assert.equal((await send(build(['--sign', '--key', 'second-key-0002'], { HANDLER_AUTH_KEY: 'wrong' }))).status, 202);
  assert.equal((await send(build(['--sign'], { HANDLER_AUTH_KEY: 'second-key-0002' }))).status, 202);
  assert.equal((await send(build(['--sign'], { HANDLER_AUTH_KEY: 'not-a-listed-key' }))).status, 401);
  assert.equal((await send(build([]))).status, 401, 'unsigned');
});

test('--sign without any key says where to put one', () => {
  assert.throws(
    () => build(['--sign', '--key-secret', 'OTHER_KEYS']),
    (err: unknown) =>
      err instanceof SendError &&
      /--sign: the local secrets file defines no OTHER_KEYS: pass --key or set HANDLER_AUTH_KEY/.test(err.message),
  );
});
