// The built bundle (`npm run build` first) loads, through its start and its first requests, none of the Node
// built-ins that build/lazy-requires-plugin.mjs keeps out of start-up: Node's own list of the modules it has
// loaded (process.moduleLoadList), written by a preloaded script when the process exits. What the plugin puts
// off in packages still works when it is used, bundled with the plugin.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { build, type Plugin } from 'esbuild';
import { embeddedParts } from '../build/code-cache.mjs';
import { lazyRequiresPlugin } from '../build/lazy-requires-plugin.mjs';
import { uriReferencePlugin } from '../build/uri-reference-plugin.mjs';
import { binaryEvent, bundlePath, startBundle } from './helpers/bundle.js';

const work = mkdtempSync(join(tmpdir(), 'ke-lazy-requires-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * `snippet` bundled with `plugins` as the build bundles the runtime, then run by node (with `env` added): its code,
 * what it printed (JSON) and its stderr.
 */
async function bundleAndRun(
  snippet: string,
  plugins: Plugin[],
  env: Record<string, string> = {},
): Promise<{ code: string; out: unknown; stderr: string }> {
  const bundled = await build({
    stdin: { contents: snippet, resolveDir: fileURLToPath(new URL('..', import.meta.url)), loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    plugins,
    logLevel: 'silent',
  });
  const code = bundled.outputFiles[0]?.text ?? '';
  const run = spawnSync(process.execPath, ['-'], { input: code, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(run.status, 0, run.stderr);
  return { code, out: JSON.parse(run.stdout) as unknown, stderr: run.stderr };
}

test("a subscriber answers its first events without loading zlib, assert, worker_threads, crypto, https, tty or fs's promises", async () => {
  const list = join(work, 'modules.txt');
  const preload = join(work, 'module-list.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`,
  );
  const running = await startBundle(
    { ROLE: 'subscriber', FUNCTION: 'echo' },
    { command: [process.execPath, '--require', preload, bundlePath] },
  );
  try {
    for (const id of ['lazy-1', 'lazy-2']) {
      const res = await fetch(running.url, binaryEvent(id, 'test.lazy'));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id });
    }
    // A bad request too: koa's error path (http-errors, http-assert) runs without loading them either.
    const bad = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(bad.status, 400);
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
  }
  const loaded = readFileSync(list, 'utf8').split('\n');
  assert.ok(loaded.includes('NativeModule http'), 'the list is the real one: node:http is in it');
  for (const builtin of ['zlib', 'assert', 'worker_threads', 'crypto', 'https', 'tty', 'internal/fs/promises'])
    assert.ok(!loaded.includes(`NativeModule ${builtin}`), `node:${builtin} was loaded`);
});

test("what the plugin puts off in packages works when used: the SDK's ids, HTTP binding and big-integer JSON, valibot's emoji(), route parameters", async () => {
  const snippet = `import { CloudEvent, HTTP } from 'cloudevents';
import * as v from 'valibot';
import { match, stringify } from 'path-to-regexp';
process.env.CE_USE_BIG_INT = 'true';
const headers = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' };
const big = HTTP.toEvent({ headers, body: '{"n":12345678901234567890}' }).data.n;
const emoji = v.pipe(v.string(), v.emoji());
console.log(JSON.stringify({
  id: new CloudEvent({ type: 't', source: '/s' }).id,
  big: typeof big + ' ' + String(big),
  emoji: [v.safeParse(emoji, '\u{1F600}').success, v.safeParse(emoji, 'a').success],
  route: [match('/letters/:id/:\u00e9t\u00e9')('/letters/a1/b2'), stringify({ tokens: [{ type: 'param', name: '1x' }] })],
}));`;
  const { code, out: printed } = await bundleAndRun(snippet, [lazyRequiresPlugin]);
  assert.match(code, /get v4\(\)/, 'the plugin rewrote the SDK: uuid is loaded at first use');
  assert.match(code, /message_1 = lazyExports\(\(\) => require_\w+\(\)\)/, "the SDK's bindings load at first use");
  assert.match(code, /idStart \?\?=/, 'the plugin rewrote path-to-regexp: its expressions are built at first use');
  const out = printed as {
    id: string;
    big: string;
    emoji: boolean[];
    route: unknown[];
  };
  assert.match(out.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(out.big, 'bigint 12345678901234567890');
  assert.deepEqual(out.emoji, [true, false]);
  // Parameter names read with ID_Start / ID_Continue (a non-ASCII letter too); a name that is not one is quoted.
  assert.deepEqual(out.route, [{ path: '/letters/a1/b2', params: { id: 'a1', '\u00e9t\u00e9': 'b2' } }, ':"1x"']);
});

test("the SDK's schema checks uri and date-time as before with ajv-formats' formats built at first read", async () => {
  // Valid, a dataschema that is not a uri, an IP-literal and an IPv4 host, a time that is not a date-time.
  const snippet = `import { CloudEvent } from 'cloudevents';
const check = (attributes) => {
  try { return new CloudEvent({ specversion: '1.0', id: '1', source: '/s', type: 't', ...attributes }).id; }
  catch (err) { return err.errors?.map((e) => e.instancePath + ' ' + e.message).join() ?? err.message; }
};
console.log(JSON.stringify([
  check({ time: '2026-11-24T10:00:00Z', dataschema: 'https://example.com/s.json' }),
  check({ dataschema: 'no-scheme' }),
  check({ dataschema: 'http://[::1]:8080/x', source: 'http://10.0.0.1:80/a' }),
  check({ time: '2026-11-24T25:00:00Z' }),
]));`;
  const run = (plugins: Plugin[]) => bundleAndRun(snippet, plugins);
  const rewritten = await run([uriReferencePlugin, lazyRequiresPlugin]);
  assert.match(rewritten.code, /require_formats\(\)\.uriFormat/, 'the schema reads its formats from their own exports');
  assert.match(rewritten.code, /fullFormats \?\?= makeFullFormats\(\)/, 'the full formats are built at first read');
  const expected = ['1', '/dataschema must match format "uri"', '1', '/time must match format "date-time"'];
  assert.deepEqual(rewritten.out, expected);
  assert.deepEqual((await run([])).out, expected, 'the SDK as published answers the same');
});

test("the built bundle leaves out valibot's emoji expression (nothing reads it)", () => {
  const parts = embeddedParts(bundlePath);
  const code = parts?.code ?? readFileSync(bundlePath, 'utf8');
  assert.ok(code.includes('init_dist=__esm({"node_modules/valibot/'), 'valibot is in the code searched');
  assert.ok(!code.includes('Emoji_Presentation'), 'EMOJI_REGEX is still built at start');
});

test('node:crypto through its stand-in: default, named and namespace imports read the real module, loaded at first use', async () => {
  const snippet = `import crypto from 'node:crypto';
import { createHash, randomUUID } from 'node:crypto';
import * as all from 'node:crypto';
const loaded = () => process.moduleLoadList.includes('NativeModule crypto');
const before = loaded();
console.log(JSON.stringify({
  before,
  uuid: randomUUID(),
  sha: createHash('sha256').update('a').digest('hex'),
  same: crypto.createHash === all.createHash && all.createHash === createHash,
  after: loaded(),
}));`;
  const out = (await bundleAndRun(snippet, [lazyRequiresPlugin])).out as {
    before: boolean;
    uuid: string;
    sha: string;
    same: boolean;
    after: boolean;
  };
  assert.equal(out.before, false, 'node:crypto was loaded at import');
  assert.match(out.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(out.sha, 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb');
  assert.equal(out.same, true);
  assert.equal(out.after, true);
});

test("the router's debug is loaded only when DEBUG is set, and then logs as before", async () => {
  const snippet = `import Router from '@koa/router';
new Router().get('/letters/:id', () => {});
console.log(JSON.stringify(['tty', 'os'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m))));`;
  const quiet = await bundleAndRun(snippet, [lazyRequiresPlugin], { DEBUG: '' });
  assert.match(quiet.code, /process\.env\.DEBUG \? require_src\(\)\("koa-router"\)/, 'the plugin rewrote the router');
  assert.deepEqual(quiet.out, [], 'debug (tty, os through supports-color) was loaded');
  assert.equal(quiet.stderr, '');
  const debugging = await bundleAndRun(snippet, [lazyRequiresPlugin], { DEBUG: 'koa-router', DEBUG_COLORS: 'no' });
  assert.match(debugging.stderr, /koa-router defined route \[ 'HEAD', 'GET' \] \/letters\/:id/);
  assert.deepEqual(debugging.out, ['tty', 'os'], 'debug was loaded for DEBUG');
});

test('destroy() reads fs.ReadStream at its first call, not at load; it still destroys a stream and closes a file stream', async () => {
  const snippet = `import destroy from 'destroy';
import { PassThrough } from 'node:stream';
import { createReadStream } from 'node:fs';
const loaded = () => process.moduleLoadList.includes('NativeModule internal/fs/streams');
const atLoad = loaded();
const plain = new PassThrough();
destroy(plain);
const file = createReadStream(process.execPath);
file.once('close', () => console.log(JSON.stringify({ atLoad, plainDestroyed: plain.destroyed, fileClosed: true })));
destroy(file);`;
  const { code, out } = await bundleAndRun(snippet, [lazyRequiresPlugin]);
  assert.match(code, /stream instanceof require\("fs"\)\.ReadStream/, 'the plugin rewrote destroy');
  assert.deepEqual(out, { atLoad: false, plainDestroyed: true, fileClosed: true });
});

test('http-errors builds its status constructors at the first read of one or the first createError(), not at load', async () => {
  const snippet = `import createError from 'http-errors';
const built = () => Reflect.ownKeys(createError).includes('NotFound');
const atLoad = built();
const classes = [createError.HttpError.name, typeof createError.isHttpError, built()];
const notFound = createError(404, 'no such letter');
const byName = new createError.NotImplemented();
console.log(JSON.stringify({
  atLoad,
  classes,
  notFound: [notFound.name, notFound.status, notFound.message, notFound instanceof createError.HttpError, notFound instanceof createError[404]],
  byName: [byName.name, byName.status, byName.expose, createError.isHttpError(byName)],
  teapot: createError[418].name,
}));`;
  const { code, out } = await bundleAndRun(snippet, [lazyRequiresPlugin]);
  assert.match(code, /buildConstructors\(\)/, 'the plugin rewrote http-errors');
  assert.deepEqual(out, {
    atLoad: false,
    classes: ['HttpError', 'function', false],
    notFound: ['NotFoundError', 404, 'no such letter', true, true],
    byName: ['NotImplementedError', 501, false, true],
    teapot: 'ImATeapotError',
  });
  const answers = (o: unknown) => {
    const { notFound, byName, teapot } = o as Record<string, unknown>;
    return { notFound, byName, teapot };
  };
  const published = await bundleAndRun(snippet, []);
  assert.deepEqual(answers(published.out), answers(out), 'the same answers as http-errors as published');
});
