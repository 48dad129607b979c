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

// The sources of the packages only Vault's direct mode and the dlq's PostgreSQL store use are assets too, read
// when the code asks for them (build/deferred-sources.mjs).
globalThis[Symbol.for('knative-events.deferred-source')] = (/** @type {string} */ name) =>
  require('node:vm').runInThisContext(require('node:sea').getAsset(`deferred:${name}`, 'utf8'), {
    filename: `${name}.source`,
  });
// Run on the next turn, once this module function has returned (the bundle's loader does the same).
setImmediate(compile().runInThisContext(), exports, require, module, __filename, __dirname);
