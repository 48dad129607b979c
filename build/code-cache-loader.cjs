// The head of dist/knative-events.cjs (build/code-cache.mjs fills in the three constants). The bundle's code
// is kept here as a string and compiled with V8's code cache for it, made at build time from a run of that
// code through the roles' start and first request: V8 then neither parses the ~0.9 MiB of code nor compiles
// the functions a start needs, it deserialises them. A plain bundle pays both on every cold start.
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

/** esbuild's output as the body of a CommonJS module function, so line N is line N of the source map. */
const source = /* bundle source */ '';
/** V8's code cache for `source`, base64; empty when built with --no-code-cache. */
const codeCache = /* code cache */ '';
/** `process.version process.arch` of the Node that made the cache: any other cannot take it. */
const cacheMadeBy = /* cache maker */ '';

function compile() {
  const { Script } = require('node:vm');
  const log = require('node:util').debuglog('knative-events');
  if (codeCache === '' || cacheMadeBy !== `${process.version} ${process.arch}`) {
    log('code cache not used: made by %s', cacheMadeBy || 'no build');
    return new Script(source, { filename: __filename });
  }
  const v8 = require('node:v8');
  v8.setFlagsFromString('--verify-snapshot-checksum');
  try {
    const script = new Script(source, { filename: __filename, cachedData: Buffer.from(codeCache, 'base64') });
    log('code cache %s', script.cachedDataRejected ? 'declined by V8' : 'accepted');
    return script;
  } finally {
    v8.setFlagsFromString('--no-verify-snapshot-checksum');
  }
}

// Run on the next turn, not from inside this file's own module function: once it has returned nothing refers
// to this file's text any more (twice the bundle's size, with the cache), so the first scavenge frees it.
setImmediate(compile().runInThisContext(), exports, require, module, __filename, __dirname);
