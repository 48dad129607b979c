// esbuild plugin: the CloudEvents SDK's check of `source` (ajv's uri-reference format, one ~1.2 KB regular
// expression) made cheaper to compile. V8 compiles a regular expression at its first use; this one takes
// ~10 M instructions (~5 ms), nearly all for its IP-literal branch (`[` IPv6 or IPvFuture `]`, with its many
// bounded repetitions), and every process paid that on its first event. The branch starts with a literal `[`,
// the only `[` the expression can match anywhere; so for a string without `[` the expression without that
// branch gives the same answer. Strings with `[` still go to the whole expression, compiled then. The IPv4
// branch goes too (the reg-name branch beside it matches what it matches): ~3.8 → ~1.8 M instructions to compile.
// test/bundle-uri-reference.test.ts checks both give the same answer on generated strings.
// The usual sources (an absolute path, or an http(s) URL with a path, of letters, digits and - . _ ~) are answered
// first by a small expression of their own (commonSource: every string it matches is a uri-reference), so a
// process whose events have such sources never compiles the long one (~1.8 M instructions at the first event).
import { readFileSync } from 'node:fs';
import { applyLazyRequires } from './lazy-requires-plugin.mjs';

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
  return { whole: expression, withoutIpLiteral: withoutIpv4(withoutIpLiteral) };
}

/** The host's IPv4 branch, and the reg-name branch that follows it (its characters include digits and `.`). */
const ipv4Branch = String.raw`(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|`;
const regNameBranch = String.raw`(?:[a-z0-9\-._~!$&'"()*+,;=]|%[0-9a-f]{2})*)`;

/**
 * The host without its IPv4 branch: the reg-name branch after it matches every string the IPv4 one does (digits
 * and dots), so the expression's answer is the same, and compiling it costs ~2 M instructions less (of ~3.8 M).
 * @param {string} expression
 */
function withoutIpv4(expression) {
  if (expression.split(ipv4Branch + regNameBranch).length !== 2)
    throw new Error('the uri-reference host changed: review withoutIpv4 in build/uri-reference-plugin.mjs');
  return expression.replace(ipv4Branch, '');
}

/**
 * Sources every one of which is a uri-reference (RFC 3986): an optional http(s) scheme with a host of letters,
 * digits, `-` and `.` and an optional port, then one or more `/`-led segments of unreserved characters (an empty
 * segment included: `//a` is a network-path reference, `/a//b` an absolute path). Case-insensitive, as the whole.
 */
export const commonSource = String.raw`^(?:https?:\/\/[a-z0-9.-]+(?::\d{1,5})?)?(?:\/[\w.~-]*)+$`;

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
const formats0Common = /${commonSource}/i;
const formats0 = { test: (s) => formats0Common.test(s) || (s.includes('[') ? formats0Whole : (formats0WithoutIpLiteral ??= /${withoutIpLiteral}/i)).test(s) };`;
  // A function, not a string: the expressions hold `$&` and `$'`, which replace() would expand.
  return source.replace(found[0], () => replacement);
}

/** @type {import('esbuild').Plugin} */
export const uriReferencePlugin = {
  name: 'uri-reference',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]cloudevents[\\/]dist[\\/]schema[\\/]v1\.js$/ }, (args) => ({
      // Its formats are read from ajv-formats' own exports too (build/lazy-requires-plugin.mjs): one onLoad per file.
      contents: applyLazyRequires(args.path, rewriteSchema(readFileSync(args.path, 'utf8'))),
      loader: 'js',
    }));
  },
};
