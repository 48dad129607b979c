// The deferred packages' sources (node-vault and pg, kept by bundle-config.mjs as string literals compiled on
// first use) taken out of the code the loader compiles, into the payload beside it. V8 keeps a script's whole
// source for as long as the process runs (to compile its functions lazily): with the two literals in it, that was
// ~410 KiB of the ~1,080 KiB of code held by every process, though only Vault's direct mode and the dlq's
// PostgreSQL store ever read them. Each literal is replaced by a call that asks the loader for it
// (code-cache-loader.cjs reads it from the payload, sea-loader.cjs from an asset), written over as many lines as
// the literal spanned, so every later line keeps its number in the source map.

/** The packages bundle-config.mjs defers, by the name its stand-in module has in the bundle (`deferred:<name>`). */
export const deferredNames = ['node-vault', 'pg'];

/** The global through which the code asks its loader for a deferred package's source. */
export const deferredSourceKey = 'knative-events.deferred-source';

/** What replaces a literal: the loader's answer, over `lines` line breaks. */
const callFor = (/** @type {string} */ name, /** @type {number} */ lines) =>
  `globalThis[Symbol.for(${JSON.stringify(deferredSourceKey)})](${JSON.stringify(name)}${'\n'.repeat(lines)})`;

const lineBreaks = (/** @type {string} */ text) => text.split('\n').length - 1;

/** Where the string literal starting at `start` ends (after its closing quote); esbuild's output only. */
function literalEnd(/** @type {string} */ text, /** @type {number} */ start) {
  const quote = text[start] ?? '';
  if (!['"', "'", '`'].includes(quote)) throw new Error(`deferred source: no string literal at ${start}`);
  for (let at = start + 1; at < text.length; at++) {
    if (text[at] === '\\') at++;
    else if (quote === '`' && text.startsWith('${', at)) throw new Error('deferred source: a template with ${}');
    else if (text[at] === quote) return at + 1;
  }
  throw new Error('deferred source: its literal does not end');
}

/** Where the source literal of `name`'s stand-in starts: `source=` right after `"deferred:<name>"(`. */
function literalStart(/** @type {string} */ code, /** @type {string} */ name) {
  const marker = `"deferred:${name}"(`;
  const at = code.indexOf(marker);
  if (at < 0 || code.includes(marker, at + 1)) throw new Error(`deferred source: expected one ${marker} in the code`);
  const source = code.indexOf('source=', at);
  if (source < 0 || source - at > 200)
    throw new Error(`deferred source: no "source=" in ${name}'s stand-in (build/bundle-config.mjs)`);
  return source + 'source='.length;
}

/**
 * The code with each deferred package's literal replaced by a call for it, and the literals as esbuild wrote them.
 * @param {string} code
 * @returns {{ code: string, deferred: Record<string, string> }}
 */
export function extractDeferred(code) {
  /** @type {Record<string, string>} */
  const deferred = {};
  let rest = code;
  for (const name of deferredNames) {
    const start = literalStart(rest, name);
    const end = literalEnd(rest, start);
    deferred[name] = rest.slice(start, end);
    rest = rest.slice(0, start) + callFor(name, lineBreaks(deferred[name])) + rest.slice(end);
  }
  return { code: rest, deferred };
}

/**
 * The code as esbuild wrote it: each call put back as its literal (plainBundle, for a bundle with no loader).
 * @param {string} code @param {Record<string, string>} deferred
 */
export function inlineDeferred(code, deferred) {
  let whole = code;
  for (const [name, literal] of Object.entries(deferred)) {
    const call = callFor(name, lineBreaks(literal));
    if (whole.split(call).length !== 2) throw new Error(`deferred source: expected one call for ${name} in the code`);
    whole = whole.replace(call, () => literal);
  }
  return whole;
}
