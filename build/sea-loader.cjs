// The main script of the single executable (build/build-binary.mjs): the bundle's code and its V8 code cache are
// two assets of the executable, and this compiles the one with the other, as the bundle's own loader
// (code-cache-loader.cjs) does from its file. The executable used to embed the code as its main script with
// Node's own code cache, which Node makes by compiling the script without running it: every function a start
// runs was then still compiled at each start (~310 M instructions to the first answer against ~220 M this way).
// V8 declines the cache when the Node version or the V8 flags differ, or its checksum does not match; declined,
// the code is compiled from source. NODE_DEBUG=knative-events says which.
/* global require, module, exports, __filename, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: Node runs it as the executable's main */
'use strict';

function compile() {
  const { getAsset } = require('node:sea');
  const { Script } = require('node:vm');
  const log = require('node:util').debuglog('knative-events');
  // The code asset is padded past Node's EXTERN_APEX at build time: the string is then external, outside V8's
  // heap (as a young heap string kept as the script's source, it doubled V8's young generation).
  const code = Buffer.from(getAsset('code')).latin1Slice();
  const cache = Buffer.from(getAsset('cache'));
  const v8 = require('node:v8');
  // On for this one compile only: left on, it would make every Node built-in loaded later decline Node's cache.
  v8.setFlagsFromString('--verify-snapshot-checksum');
  try {
    const script = new Script(code, { filename: __filename, cachedData: cache });
    log('code cache %s', script.cachedDataRejected ? 'declined by V8' : 'accepted');
    return script;
  } finally {
    v8.setFlagsFromString('--no-verify-snapshot-checksum');
  }
}

// Run on the next turn, once this module function has returned (the bundle's loader does the same).
setImmediate(compile().runInThisContext(), exports, require, module, __filename, __dirname);
