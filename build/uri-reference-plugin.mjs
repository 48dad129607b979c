// esbuild plugin: the CloudEvents SDK's check of `source` (ajv's uri-reference format, one ~1.2 KB regular
// expression) made cheaper to compile. V8 compiles a regular expression at its first use; this one takes
// ~10 M instructions (~5 ms), nearly all for its IP-literal branch (`[` IPv6 or IPvFuture `]`, with its many
// bounded repetitions), and every process paid that on its first event. The branch starts with a literal `[`,
// the only `[` the expression can match anywhere; so for a string without `[` the expression without that
// branch gives the same answer. Strings with `[` still go to the whole expression, compiled then.
// test/bundle-uri-reference.test.ts checks both give the same answer on generated strings.
import { readFileSync } from 'node:fs';

const declaration = /^const formats0 = \/(.*)\/i;$/m;
const ipLiteralStart = '(?:\\[';
const ipLiteralEnd = '\\]|';

/**
 * The uri-reference expression's source, and the same without its IP-literal branch.
 * @param {string} expression the source of the /i expression
 * @returns {{ whole: string, withoutIpLiteral: string }}
 */
export function splitUriReference(expression) {
  const start = expression.indexOf(ipLiteralStart);
  const end = expression.indexOf(ipLiteralEnd, start);
  // Only one branch may be cut, the one between `(?:` + `\[` and `\]|`: the `(?:` stays, so the group it opens
  // keeps its other branches.
  if (start === -1 || end === -1 || expression.indexOf(ipLiteralStart, start + 1) !== -1)
    throw new Error('the uri-reference expression changed: review build/uri-reference-plugin.mjs');
  const withoutIpLiteral = expression.slice(0, start + 3) + expression.slice(end + ipLiteralEnd.length);
  if (withoutIpLiteral.includes('\\[')) throw new Error('the uri-reference expression has another `[` branch');
  return { whole: expression, withoutIpLiteral };
}

/**
 * cloudevents/dist/schema/v1.js with formats0 (uri-reference) as an object whose test() picks the expression.
 * @param {string} source
 */
export function rewriteSchema(source) {
  const found = declaration.exec(source);
  if (!found) throw new Error('cloudevents schema: no formats0 uri-reference expression; review uri-reference-plugin');
  const { whole, withoutIpLiteral } = splitUriReference(found[1]);
  const replacement = `const formats0Whole = /${whole}/i;
let formats0WithoutIpLiteral;
const formats0 = { test: (s) => (s.includes('[') ? formats0Whole : (formats0WithoutIpLiteral ??= /${withoutIpLiteral}/i)).test(s) };`;
  // A function, not a string: the expressions hold `$&` and `$'`, which replace() would expand.
  return source.replace(found[0], () => replacement);
}

/** @type {import('esbuild').Plugin} */
export const uriReferencePlugin = {
  name: 'uri-reference',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]cloudevents[\\/]dist[\\/]schema[\\/]v1\.js$/ }, (args) => ({
      contents: rewriteSchema(readFileSync(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};
