// The Vault agent file parser: both line forms, quoting and escapes as the chart's toJSON template renders
// them, nothing evaluated, and errors that name file and line without quoting the (secret) line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSecretFile, SecretFileError } from '../runtime/secrets/env-file.js';

const parse = (text: string) => Object.fromEntries(parseSecretFile(text, '/vault/secrets/app'));

test('KEY="value" and export KEY="value" lines, comments and blank lines', () => {
  const text = [
    '# rendered by the Vault agent',
    '',
    'BROKER_URL="http://broker/ns/default"',
    'export API_KEY="k-123"   # trailing comment',
    '  export\tTABBED="t"',
    '',
  ].join('\n');
  assert.deepEqual(parse(text), { BROKER_URL: 'http://broker/ns/default', API_KEY: 'k-123', TABBED: 't' });
});

test('= and # inside values, single quotes literal, unquoted values, empty values', () => {
  const text = [
    'A="x=y==z"',
    "B='p#q \\n $HOME'",
    'C=plain=value # comment',
    'D=""',
    'E=',
    'F= # only a comment',
    'G="a # not a comment"',
  ].join('\n');
  assert.deepEqual(parse(text), {
    A: 'x=y==z',
    B: 'p#q \\n $HOME',
    C: 'plain=value',
    D: '',
    E: '',
    F: '',
    G: 'a # not a comment',
  });
});

test('JSON escapes from toJSON, shell escapes for $ and backtick, and no expansion', () => {
  const text =
    String.raw`A="quote\" backslash\\ slash\/ nl\n tab\t amp\u0026 lt\u003c"` +
    '\n' +
    String.raw`B="\$HOME \`id\` $(id) ${'$'}{X}"`;
  assert.deepEqual(parse(text), { A: 'quote" backslash\\ slash/ nl\n tab\t amp& lt<', B: '$HOME `id` $(id) ${X}' });
});

test('a double-quoted value may span lines (a PEM certificate)', () => {
  const values = parse('CA="-----BEGIN-----\nabc\n-----END-----"\nNEXT="n"');
  assert.equal(values.CA, '-----BEGIN-----\nabc\n-----END-----');
  assert.equal(values.NEXT, 'n');
});

test('CRLF line ends and a byte order mark are accepted; the last of a repeated name wins', () => {
  assert.deepEqual(parse('\uFEFFA="1"\r\nA="2"\r\n'), { A: '2' });
});

const malformed: Array<[string, string, number, RegExp]> = [
  ['no equals sign', 'A="1"\nsupersecretvalue\n', 2, /expected KEY="value"/],
  ['unterminated quote', 'A="1"\n\nB="supersecretvalue\n', 3, /unterminated double-quoted value/],
  ['text after the closing quote', 'B="supersecretvalue" extra\n', 1, /unexpected text after the closing quote/],
  ['unknown escape', 'B="supersecret\\qvalue"\n', 1, /unsupported escape/],
  ['spaces in an unquoted value', 'B=supersecret value\n', 1, /cannot contain spaces/],
  ['a name starting with a digit', '1B="supersecretvalue"\n', 1, /expected KEY="value"/],
];
for (const [what, text, line, reason] of malformed) {
  test(`malformed: ${what} → error with file and line, without the line's content`, () => {
    assert.throws(
      () => parseSecretFile(text, '/vault/secrets/app'),
      (err: unknown) => {
        assert.ok(err instanceof SecretFileError);
        assert.equal(err.line, line);
        assert.match(err.message, new RegExp(`^/vault/secrets/app:${line}: `));
        assert.match(err.message, reason);
        assert.doesNotMatch(err.message, /supersecret/);
        return true;
      },
    );
  });
}

test('parsing is linear: a 1 MiB line of blanks, or of one quoted value, is read in well under a second', () => {
  // Each of these took minutes or more with the former /[ \t]+#.*$/ (quadratic in a run of blanks): 150 KB
  // of them blocked the event loop for 18 s. The deadline is generous; a quadratic parser misses it by far.
  const blanks = ' \t'.repeat(400_000);
  const cases: Array<[string, string, Record<string, string> | RegExp]> = [
    ['blanks, then a comment', `A=x${blanks}#c${blanks}\nB=y\n`, { A: 'x', B: 'y' }],
    ['blanks, no comment', `A=x${blanks}y\n`, /cannot contain spaces/],
    ['a long double-quoted value', `A="${'v'.repeat(900_000)}"\n`, { A: 'v'.repeat(900_000) }],
    ['a long single-quoted value', `A='${'w\\'.repeat(400_000)}'\n`, { A: 'w\\'.repeat(400_000) }],
  ];
  for (const [what, text, expected] of cases) {
    const started = performance.now();
    if (expected instanceof RegExp) assert.throws(() => parse(text), expected, what);
    else assert.deepEqual(parse(text), expected, what);
    const ms = performance.now() - started;
    assert.ok(ms < 1500, `${what}: ${Math.round(ms)} ms`);
  }
});
