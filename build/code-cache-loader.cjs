// The head of dist/knative-events.cjs (build/code-cache.mjs fills in `layout`). The bundle's code and V8's code
// cache for it follow this loader in two comments at the end of the file, and the loader compiles the one with
// the other: V8 then neither parses the ~0.9 MiB of code nor compiles the functions a start needs, it
// deserialises them. The cache is made at build time from a run of that code through the roles' start and first
// request. A plain bundle pays both on every cold start.
//
// Why comments, not string literals: Node compiles this whole file first, and V8 scans a string literal
// character by character into a literal buffer (~40 M instructions for the two, about 12% of a cold start), while
// it skips a comment with a fast search for its end. The loader reads both parts from its own file by their
// offsets from the end of the file. A `*/` in the code would end its comment early: the build writes it as `*`
// U+0001 `/` and the loader puts it back (the build fails if the code already holds that sequence).
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
 * Where the parts are: `code` is esbuild's output as the body of a CommonJS module function (line N is line N of
 * the source map), `cache` V8's code cache for it in base64 (0 characters when built with --no-code-cache), each
 * as [bytes before the end of the file where it starts, its bytes in the file, its characters once read back];
 * `madeBy` is `process.version process.arch` of the Node that made the cache: any other cannot take it.
 * @type {{ code: [number, number, number], cache: [number, number, number], madeBy: string }}
 */
const layout = /* layout */ {};

/** How the build writes a `*` `/` of the code inside its comment. */
const escapedCommentEnd = Buffer.from('*\u0001/', 'latin1');

/**
 * The code with every escaped comment end put back, in place in `bytes`, then as a string. The build pads the
 * code to at least ~1 MB: Node then makes the string external (outside V8's heap). A young heap string of that
 * size, kept by V8 as the script's source, made V8 double its young generation (idle RSS +2-3 MiB).
 * @param {Buffer} bytes
 */
function unescapedText(bytes) {
  let at = bytes.indexOf(escapedCommentEnd);
  let end = at === -1 ? bytes.length : at;
  while (at !== -1) {
    const next = bytes.indexOf(escapedCommentEnd, at + escapedCommentEnd.length);
    const stop = next === -1 ? bytes.length : next;
    bytes[end++] = 0x2a; // the `*`; the U+0001 after it is dropped
    end += bytes.copy(bytes, end, at + 2, stop);
    at = next;
  }
  return bytes.latin1Slice(0, end);
}

/** The code and the cache's bytes, each read from this file into a buffer of its own size. */
function readParts() {
  const { closeSync, fstatSync, openSync, readSync } = require('node:fs');
  const fd = openSync(__filename, 'r');
  try {
    const { size } = fstatSync(fd);
    const bytesOf = (/** @type {[number, number, number]} */ [fromEnd, length]) => {
      const bytes = Buffer.allocUnsafeSlow(length);
      readSync(fd, bytes, 0, length, size - fromEnd);
      return bytes;
    };
    const code = unescapedText(bytesOf(layout.code));
    const cacheText = bytesOf(layout.cache).latin1Slice().slice(0, layout.cache[2]);
    return { code, cache: Buffer.from(cacheText, 'base64') };
  } finally {
    closeSync(fd);
  }
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
