// dist/knative-events.cjs: this loader, with `layout` filled in by build/code-cache.mjs. The bundle's code and
// V8's code cache for it are the payload next to it, dist/knative-events.code (the code, the cache, the deferred
// packages' sources, the build's id), and the loader compiles the code with the cache: V8 then neither parses
// the ~0.7 MiB of code nor compiles the functions a start needs, it deserialises them. The cache is made at
// build time from a run of that code through the roles' start and first request.
//
// Why a second file: Node reads a CommonJS file into a heap string and compiles all of it. With the code and
// the cache inside this file (as comments, read back by offset), that ~1.9 MiB string was kept until a full GC
// (large-object space; none runs at idle), V8 scanned both comments and Node decoded the text as UTF-8: +4 MiB
// idle RSS and ~22 M instructions a start. Read here into a buffer, the code becomes the one string V8 keeps (for
// the functions it compiles later) and the cache is deserialised from the buffer itself. The sources of the
// packages only Vault's direct mode and the dlq's PostgreSQL store use are read when asked for
// (build/deferred-sources.mjs): kept in the code, V8 held their ~410 KiB in every process.
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
 * The payload's parts: `code` bytes of esbuild's output as the body of a CommonJS module function (line N is line
 * N of the source map; ASCII), `cache` bytes of V8's code cache for it, each deferred package's source literal at
 * its [offset, length], then the build's `id` (ASCII); `madeBy` is `process.version process.arch` of the Node
 * that made the cache: any other cannot take it.
 * @type {{ code: number, cache: number, deferred: Record<string, [number, number]>, id: string, madeBy: string }}
 */
const layout = /* layout */ {};

/** The payload next to this file: its name with `.code` in place of `.cjs`. */
const payloadFile = `${__filename.replace(/\.c?js$/, '')}.code`;
const { closeSync, fstatSync, openSync, readSync } = require('node:fs');

/** `length` bytes of the payload from `position`, after checking that the payload is this build's. */
function readPayload(/** @type {number} */ position, /** @type {number} */ length) {
  let fd;
  try {
    fd = openSync(payloadFile, 'r');
  } catch (err) {
    throw new Error(`${payloadFile}, the code of ${__filename}, cannot be read: copy the two files together`, {
      cause: err,
    });
  }
  try {
    const { size } = fstatSync(fd);
    const id = Buffer.alloc(layout.id.length);
    readSync(fd, id, 0, id.length, size - id.length);
    const bytes = Buffer.allocUnsafeSlow(length);
    let read = 0;
    for (let n = -1; n !== 0 && read < length; read += n) n = readSync(fd, bytes, read, length - read, position + read);
    const deferredBytes = Object.values(layout.deferred).reduce((sum, [, bytes]) => sum + bytes, 0);
    if (
      read !== length ||
      size !== layout.code + layout.cache + deferredBytes + id.length ||
      id.latin1Slice() !== layout.id
    )
      throw new Error(`${payloadFile} is not the payload of ${__filename} (build ${layout.id}): build again`);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** A deferred package's source, read from the payload when its stand-in asks for it (its first import). */
function deferredSource(/** @type {string} */ name) {
  const [at, length] = layout.deferred[name] ?? [0, 0];
  if (length === 0) throw new Error(`${payloadFile} holds no source for ${name}`);
  return require('node:vm').runInThisContext(readPayload(at, length).latin1Slice(), { filename: `${name}.source` });
}

function compile() {
  const { Script } = require('node:vm');
  const log = require('node:util').debuglog('knative-events');
  const bytes = readPayload(0, layout.code + layout.cache);
  const code = bytes.latin1Slice(0, layout.code);
  if (layout.cache === 0 || layout.madeBy !== `${process.version} ${process.arch}`) {
    log('code cache not used: made by %s', layout.madeBy || 'no build');
    return new Script(code, { filename: __filename });
  }
  const v8 = require('node:v8');
  v8.setFlagsFromString('--verify-snapshot-checksum');
  try {
    const cachedData = bytes.subarray(layout.code, layout.code + layout.cache);
    const script = new Script(code, { filename: __filename, cachedData });
    log('code cache %s', script.cachedDataRejected ? 'declined by V8' : 'accepted');
    return script;
  } finally {
    v8.setFlagsFromString('--no-verify-snapshot-checksum');
  }
}

globalThis[Symbol.for('knative-events.deferred-source')] = deferredSource;
// Run on the next turn, not from inside this file's own module function: once it has returned, nothing refers to
// the payload's buffer any more.
setImmediate(compile().runInThisContext(), exports, require, module, __filename, __dirname);
