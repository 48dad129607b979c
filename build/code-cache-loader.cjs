// The head of dist/knative-events.cjs (build/code-cache.mjs fills in `layout`). The bundle's code and V8's code
// cache for it follow this loader in two comments at the end of the file, and the loader compiles the one with
// the other: V8 then neither parses the ~0.9 MiB of code nor compiles the functions a start needs, it
// deserialises them. The cache is made at build time from a run of that code through the roles' start and first
// request. A plain bundle pays both on every cold start.
//
// Why comments, not string literals: Node compiles this whole file first, and V8 scans a string literal
// character by character into a literal buffer (~40 M instructions for the two, about 12% of a cold start), while
// it skips a comment with a fast search for its end. The loader reads its own file again and takes both parts out
// by their offsets from the end of the file. A `*/` in the code would end its comment early: the build writes it
// as `*` U+0001 `/` and the loader puts it back (the build fails if the code already holds that sequence).
//
// V8 accepts the cache only from the same V8 version, with the same V8 flags (NODE_OPTIONS like
// --max-old-space-size make it decline) and for a source of the same length; a damaged cache is caught by its
// checksum, which V8 checks only while --verify-snapshot-checksum is on. That flag is therefore on for this
// one compile and off again at once: left on, it would change the flag hash and make every Node built-in
// loaded later decline Node's own code cache. A declined cache costs nothing but the parse a plain bundle does.
// With the cache, stack traces name the file where the bundle was built: V8 keeps the name it was made under.
/* global require, module, exports, __filename, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: this is the bundle's first file */
'use strict';

/**
 * Where the parts are, as [characters before the end of the file where the part starts, its length]: `code` is
 * esbuild's output as the body of a CommonJS module function (line N is line N of the source map), `cache` V8's
 * code cache for it in base64 (length 0 when built with --no-code-cache); `madeBy` is `process.version
 * process.arch` of the Node that made the cache: any other cannot take it.
 * @type {{ code: [number, number], cache: [number, number], madeBy: string }}
 */
const layout = /* layout */ {};

/** The code and the cache's bytes, cut out of this file. */
function readParts() {
  const file = require('node:fs').readFileSync(__filename);
  /** @param {[number, number]} part */
  const text = ([fromEnd, length]) => file.latin1Slice(file.length - fromEnd, file.length - fromEnd + length);
  return { code: text(layout.code).replaceAll('*\u0001/', '*/'), cache: Buffer.from(text(layout.cache), 'base64') };
}

function compile() {
  const { Script } = require('node:vm');
  const log = require('node:util').debuglog('knative-events');
  const { code, cache } = readParts();
  if (cache.length === 0 || layout.madeBy !== `${process.version} ${process.arch}`) {
    log('code cache not used: made by %s', layout.madeBy || 'no build');
    return new Script(code, { filename: __filename });
  }
  const v8 = require('node:v8');
  v8.setFlagsFromString('--verify-snapshot-checksum');
  try {
    const script = new Script(code, { filename: __filename, cachedData: cache });
    log('code cache %s', script.cachedDataRejected ? 'declined by V8' : 'accepted');
    return script;
  } finally {
    v8.setFlagsFromString('--no-verify-snapshot-checksum');
  }
}

// Run on the next turn, not from inside this file's own module function: once it has returned nothing refers
// to this file's text any more (twice the bundle's size, with the cache), so the first scavenge frees it.
setImmediate(compile().runInThisContext(), exports, require, module, __filename, __dirname);
