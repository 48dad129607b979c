// build/uri-reference-plugin.mjs answers the CloudEvents SDK's uri-reference check of `source` with the
// expression minus its IP-literal branch when the string has no `[`. That must give the same answer as the
// whole expression for every string: checked here on generated strings built from the pieces URIs are made of
// (IP literals, percent escapes, both letter cases, characters outside ASCII), and through the built bundle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { commonSource, rewriteSchema, splitUriReference } from '../build/uri-reference-plugin.mjs';
import { startBundle } from './helpers/bundle.js';

const schemaPath = createRequire(import.meta.url).resolve('cloudevents/dist/schema/v1.js');
const schemaSource = readFileSync(schemaPath, 'utf8');
const expression = /^const formats0 = \/(.*)\/i;$/m.exec(schemaSource)?.[1] ?? '';

const pieces = [
  'http://',
  'HTTPS://',
  'urn:uuid:6e8bc430',
  'mailto:a@b',
  '//',
  '/',
  '?',
  '#',
  '@',
  ':',
  ':80',
  '%aF',
  '%g1',
  '%',
  '[::1]',
  '[fe80::1%25en0]',
  '[V1.x]',
  '[v7.:]',
  '[1:2:3:4:5:6:7:8]',
  '[',
  ']',
  '192.168.0.1',
  '256.1.1.1',
  'a',
  'Z',
  '0',
  '-',
  '.',
  '_',
  '~',
  '!',
  '$',
  '&',
  "'",
  '"',
  '(',
  '*',
  '+',
  ',',
  ';',
  '=',
  ' ',
  '\\',
  '^',
  'é',
  'ſ',
  'K',
  '\n',
];

/** A deterministic generator, so a failure names a string that can be replayed. */
function* strings(count: number, from: readonly string[] = pieces): Generator<string> {
  let seed = 19;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let k = next(9); k > 0; k--) s += from[next(from.length)];
    yield s;
  }
}

test('the expression without the IP-literal branch answers as the whole one for every string without [', () => {
  const { whole, withoutIpLiteral } = splitUriReference(expression);
  const full = new RegExp(whole, 'i');
  const cut = new RegExp(withoutIpLiteral, 'i');
  assert.ok(withoutIpLiteral.length < whole.length / 2, 'the IP-literal branch is most of the expression');
  let valid = 0;
  for (const s of strings(200_000)) {
    if (s.includes('[')) continue;
    assert.equal(cut.test(s), full.test(s), JSON.stringify(s));
    if (full.test(s)) valid++;
  }
  assert.ok(valid > 1000, `the strings include valid uri-references (${valid})`);
});

test('every string the common-source expression matches is a uri-reference; the usual sources are among them', () => {
  const full = new RegExp(splitUriReference(expression).whole, 'i');
  const common = new RegExp(commonSource, 'i');
  // Pieces of the shapes it takes, near misses and characters outside it, so that many strings match it.
  const near = ['http://', 'HTTPS://', 'ftp://', '/', '/', '//', 'a', 'Z', '0', '-', '.', '_', '~', ':80', ':'];
  const around = [...near, '%aF', '?', '#', '@', ' ', 'é', 'ſ', 'K', '[::1]', '+', '\n'];
  let matched = 0;
  for (const s of strings(200_000, around)) {
    if (!common.test(s)) continue;
    matched++;
    assert.ok(full.test(s), JSON.stringify(s));
  }
  assert.ok(matched > 1000, `the strings include ones the common expression matches (${matched})`);
  const usual = [
    '/bench/loadgen',
    '/apis/v1/namespaces/default/pingsources/ping',
    'https://github.com/knative/eventing',
  ];
  for (const source of [...usual, 'http://localhost:8080/a/b', '//a', 'HTTP://Example.COM:443/x_y~z.json'])
    assert.ok(common.test(source) && full.test(source), source);
  for (const source of ['a b', 'http://h', 'urn:uuid:1', '/a?b', '/a#b', '/é']) assert.ok(!common.test(source), source);
});

test('the rewritten schema module validates source exactly as the original', () => {
  const load = (source: string) => {
    const module = { exports: {} as Record<string, (data: unknown) => boolean> };
    new Function('module', 'exports', 'require', source)(module, module.exports, createRequire(schemaPath));
    return module.exports.default ?? module.exports;
  };
  const original = load(schemaSource) as unknown as (data: unknown) => boolean;
  const rewritten = load(rewriteSchema(schemaSource)) as unknown as (data: unknown) => boolean;
  for (const source of strings(20_000)) {
    const event = { specversion: '1.0', id: '1', type: 't', source };
    assert.equal(rewritten(event), original(event), JSON.stringify(source));
  }
  assert.equal(rewritten({ specversion: '1.0', id: '1', type: 't', source: 'http://[::1]:8080/x' }), true);
  assert.equal(rewritten({ specversion: '1.0', id: '1', type: 't', source: 'http://[::1' }), false);
});

test('the bundle refuses a source that is not a uri-reference and accepts an IP literal', async () => {
  const running = await startBundle({ ROLE: 'subscriber', FUNCTION: 'echo' });
  const send = (source: string) =>
    fetch(running.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'uri-1',
        'ce-source': source,
        'ce-type': 'test.uri',
      },
      body: '{"ok":true}',
    });
  try {
    assert.equal((await send('http://[fe80::1]:80/path')).status, 200);
    const bad = await send('a b');
    assert.equal(bad.status, 400, await bad.clone().text());
    assert.match(await bad.text(), /source/);
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
  }
});
