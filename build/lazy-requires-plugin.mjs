// esbuild plugin: requires in packages that load, at start-up, code or Node built-ins that no start and no
// ordinary request uses, rewritten so the module is loaded the first time it is used. Everything stays in the
// bundle; only when it is evaluated changes. Measured with bench/start-cost.mjs (CPU ms at start, and what the
// built-in adds to idle RSS): zlib ~1.5 ms / 0.25 MiB, assert ~2 ms / 0.4 MiB, deep-equal and its ~20 small
// packages ~2 ms, pino's transport code (thread-stream, worker_threads) ~1.5 ms / 0.5 MiB; node:crypto and
// node:https below.
//
// Each rewrite names the exact text it replaces: when a package update changes that text the build fails and
// says which rewrite to review, rather than silently loading the module eagerly again.
import { readFileSync } from 'node:fs';

/** `assert(value, ...)` that loads node:assert only to throw: the same AssertionError when `value` is falsy. */
const lazyAssert = (name) => `const assert = (...args) => { if (!args[0]) require('${name}')(...args) }`;

/**
 * `patchedBy`: another plugin loads that file (esbuild uses the first onLoad that answers) and applies these
 * rewrites itself through applyLazyRequires.
 * @type {{ file: string, replace: [string, string][], patchedBy?: string }[]}
 */
export const lazyRequires = [
  {
    // destroy() checks `instanceof Zlib.Gzip` (and six more) only for a stream that is neither an fs stream nor
    // has its own destroy; a Proxy loads zlib at that first property read.
    // fs.ReadStream, read at load, is a getter of node:fs that loads fs's streams and with them its promise API,
    // readline, directory and watcher modules (8 built-ins): read at destroy()'s first call now.
    file: 'destroy/index.js',
    replace: [
      ["var Zlib = require('zlib')", "var Zlib = new Proxy({}, { get: (_, key) => require('zlib')[key] })"],
      ["var ReadStream = require('fs').ReadStream\n", ''],
      ['return stream instanceof ReadStream\n', "return stream instanceof require('fs').ReadStream\n"],
    ],
  },
  {
    // ctx.assert is http-assert, with its own older http-errors, statuses and depd (which evaluates a wrapper with
    // eval at load): none is used unless a middleware calls ctx.assert, which the runtime does not. A callable
    // stand-in loads it at the first call or property read (ctx.assert.equal…).
    // ctx.cookies (cookies, keygrip and a depd of their own: ~10 M instructions a start) likewise: Koa builds
    // them at the first read of ctx.cookies, which the runtime never makes; the require moves into that getter.
    file: 'koa/lib/context.js',
    replace: [
      ["const Cookies = require('cookies')\n", ''],
      ['this[COOKIES] = new Cookies(', "this[COOKIES] = new (require('cookies'))("],
      [
        "const httpAssert = require('http-assert')",
        "const httpAssert = new Proxy(() => {}, { apply: (_, self, args) => Reflect.apply(require('http-assert'), self, args), get: (_, key) => require('http-assert')[key] })",
      ],
    ],
  },
  {
    // depd(namespace) keeps the file of its caller, to tell a package's own calls from its users'. It took the
    // file from callSiteLocation, which also asks V8 for the line and column: V8 then computes the line ends of the
    // whole ~0.9 MiB bundle (~10 M instructions) at every start. The file alone, as callSiteLocation builds it.
    // Both depd versions (2.0.0, and 1.1.2 under http-assert) have the same text.
    file: 'depd/index.js',
    replace: [
      [
        'var site = callSiteLocation(stack[1])\n  var file = site[0]',
        "var file = (stack[1].isEval() ? stack[1].getEvalOrigin() + ', ' : '') + (stack[1].getFileName() || '<anonymous>')",
      ],
    ],
  },
  {
    // @koa/router is debug's only user here. debug loads tty, os and supports-color (which reads the terminal's
    // colour support and process.argv), copies the DEBUG_* variables and parses DEBUG at load (~4 M instructions a
    // start in all), for a router that then logs nothing unless DEBUG is set. debug reads DEBUG at load only
    // (process.env.DEBUG): without it, every instance stays off, so the router's is a no-op then, and debug is
    // loaded as before when DEBUG is set. (A later require('debug').enable() would not reach the router's; nothing
    // here calls it.)
    file: '@koa/router/dist/index.mjs',
    replace: [
      [
        'import debugModule from "debug";\nvar debug = debugModule("koa-router");',
        'var debug = process.env.DEBUG ? require("debug")("koa-router") : () => {};',
      ],
    ],
  },
  {
    // Every debug instance asked at creation whether stderr is a terminal, which creates process.stderr's stream
    // at start. Asked at first read now (only when DEBUG enables a namespace).
    file: 'debug/src/common.js',
    replace: [
      [
        'debug.useColors = createDebug.useColors();',
        "let useColors; Object.defineProperty(debug, 'useColors', { enumerable: true, configurable: true, get: () => (useColors ??= createDebug.useColors()), set: (value) => { useColors = value; } });",
      ],
    ],
  },
  {
    file: 'koa/lib/response.js',
    replace: [["const assert = require('node:assert')", lazyAssert('node:assert')]],
    patchedBy: 'koa-without-eager-fetch',
  },
  { file: 'sonic-boom/index.js', replace: [["const assert = require('assert')", lazyAssert('assert')]] },
  {
    // http-errors made a constructor for each of its ~40 4xx/5xx statuses at load (a named function, a prototype
    // set up through inherits, toIdentifier of the message each): ~2 M instructions a start, for the few an error
    // path ever builds. Built all together now at the first read of a constructor (by code or by name, e.g. the
    // router's HttpError.NotImplemented; a name starting with a capital or a digit that is not there yet) or at
    // createError's first call. Other reads (HttpError, isHttpError, esbuild's __esModule probe) build nothing.
    // Both versions (2.0.1, and 1.8.1 under http-assert) have the same text.
    file: 'http-errors/index.js',
    replace: [
      [
        'module.exports = createError\n',
        `let constructorsBuilt = false
const buildConstructors = () => {
  if (!constructorsBuilt) {
    constructorsBuilt = true
    populateConstructorExports(createError, statuses.codes, createError.HttpError)
  }
}
module.exports = new Proxy(createError, {
  get: (target, key, receiver) => {
    if (!constructorsBuilt && typeof key === 'string' && /^[A-Z0-9]/.test(key) && !(key in target)) buildConstructors()
    return Reflect.get(target, key, receiver)
  }
})
`,
      ],
      [
        'module.exports.HttpError = createHttpErrorConstructor()',
        'createError.HttpError = createHttpErrorConstructor()',
      ],
      [
        'module.exports.isHttpError = createIsHttpErrorFunction(module.exports.HttpError)',
        'createError.isHttpError = createIsHttpErrorFunction(createError.HttpError)',
      ],
      ['populateConstructorExports(module.exports, statuses.codes, module.exports.HttpError)\n', ''],
      [
        'var HttpError = createError[status] || createError[codeClass(status)]',
        'buildConstructors()\n  var HttpError = createError[status] || createError[codeClass(status)]',
      ],
    ],
  },
  {
    // ctx.assert.deepEqual / notDeepEqual are the only users of deep-equal; the runtime calls neither.
    file: 'http-assert/index.js',
    replace: [["var eql = require('deep-equal')", "var eql = (...args) => require('deep-equal')(...args)"]],
  },
  {
    // pino's transports (worker threads) are never configured here: the runtime writes to its own stream
    // (runtime/logger.ts). worker_threads is read only for an asynchronous destination, and then still read.
    file: 'pino/lib/tools.js',
    replace: [
      ["const { isMainThread } = require('worker_threads')\n", ''],
      ["const transport = require('./transport')", "const transport = (...args) => require('./transport')(...args)"],
      ['if (!opts.sync && isMainThread) {', "if (!opts.sync && require('worker_threads').isMainThread) {"],
    ],
  },
  {
    file: 'pino/pino.js',
    replace: [
      [
        "module.exports.transport = require('./lib/transport')",
        "Object.defineProperty(module.exports, 'transport', { enumerable: true, get: () => require('./lib/transport') })",
      ],
    ],
  },
  {
    // The CloudEvents SDK makes an id with uuid only for an event built without one, which no start and no ordinary
    // request does: uuid (every version, with their md5 and sha1) loads at that first call.
    file: 'cloudevents/dist/event/cloudevent.js',
    replace: [['const uuid_1 = require("uuid");', 'const uuid_1 = { get v4() { return require("uuid").v4; } };']],
  },
  {
    // The runtime takes CloudEvent and ValidationError from the SDK's index; the index also loads its emitter,
    // HTTP transport and the HTTP, Kafka and MQTT bindings (message/), which only its getters hand out: each is
    // loaded at the first read of one of its exports now (HTTP.toEvent works as before).
    file: 'cloudevents/dist/index.js',
    replace: [
      [
        'Object.defineProperty(exports, "__esModule", { value: true });\n',
        'Object.defineProperty(exports, "__esModule", { value: true });\nconst lazyExports = (load) => { let loaded; return new Proxy({}, { get: (_, key) => (loaded ??= load())[key] }); };\n',
      ],
      [
        'const emitter_1 = require("./transport/emitter");',
        'const emitter_1 = lazyExports(() => require("./transport/emitter"));',
      ],
      ['const http_1 = require("./transport/http");', 'const http_1 = lazyExports(() => require("./transport/http"));'],
      ['const message_1 = require("./message");', 'const message_1 = lazyExports(() => require("./message"));'],
    ],
  },
  {
    // json-bigint (and bignumber.js, which builds its constructor at load) serves only the SDK's JSON parser with
    // big-integer support, which the runtime does not use (it parses bodies itself): loaded at its first use.
    file: 'cloudevents/dist/parsers.js',
    replace: [
      [
        'const json_bigint_1 = __importDefault(require("json-bigint"));',
        'const json_bigint_1 = { get default() { return __importDefault(require("json-bigint")).default; } };',
      ],
    ],
  },
  {
    // valibot's EMOJI_REGEX serves only its emoji() check, which the runtime does not use; esbuild writes the
    // literal as `new RegExp(...)` (a call it must keep), and V8 parses its Unicode property classes through ICU
    // when it is created (~1 M instructions a start). As a pure expression esbuild drops it when nothing reads it.
    file: 'valibot/dist/index.mjs',
    replace: [
      ['const EMOJI_REGEX = /^', 'const EMOJI_REGEX = /* @__PURE__ */ (() => /^'],
      ['\\p{Emoji_Presentation}))*)+$/u;', '\\p{Emoji_Presentation}))*)+$/u)();'],
    ],
  },
  {
    // The CloudEvents SDK's schema reads two of ajv-formats' formats (uri, date-time), but requiring the module
    // built all ~40 of them, fast and full: ~30 regular expressions, four of them 1.4-2.6 KB (uri, uri-reference,
    // url, ipv6), which V8 parses when the literal is evaluated. The two objects are built at their first read
    // now, the two formats the schema reads are exports of their own (cloudevents/dist/schema/v1.js reads them
    // there: uri-reference-plugin.mjs), and uri's expression is built at its first test.
    file: 'ajv-formats/dist/formats.js',
    replace: [
      ['exports.fullFormats = {\n', 'const makeFullFormats = () => ({\n'],
      [
        '\n};\nexports.fastFormats = {\n    ...exports.fullFormats,\n',
        '\n});\nconst makeFastFormats = () => ({\n    ...exports.fullFormats,\n',
      ],
      [
        '\n};\nexports.formatNames = Object.keys(exports.fullFormats);\n',
        `\n});
let fullFormats, fastFormats;
Object.defineProperty(exports, "fullFormats", { enumerable: true, get: () => (fullFormats ??= makeFullFormats()) });
Object.defineProperty(exports, "fastFormats", { enumerable: true, get: () => (fastFormats ??= makeFastFormats()) });
Object.defineProperty(exports, "formatNames", { enumerable: true, get: () => Object.keys(exports.fullFormats) });
exports.uriFormat = uri;
exports.dateTimeFormat = fmtDef(date_time, compareDateTime);
`,
      ],
      // The same definitions as the full formats' (the rewrite fails if these change).
      ['    uri,\n', '    uri,\n'],
      [
        '    "date-time": fmtDef(date_time, compareDateTime),\n',
        '    "date-time": fmtDef(date_time, compareDateTime),\n',
      ],
      ['const URI = /^', 'let uriExpression;\nconst URI = { test: (s) => (uriExpression ??= /^'],
      ['$/i;\nfunction uri(str) {', '$/i).test(s) };\nfunction uri(str) {'],
    ],
  },
  {
    file: 'cloudevents/dist/schema/v1.js',
    replace: [
      ['require("ajv-formats/dist/formats").fullFormats.uri;', 'require("ajv-formats/dist/formats").uriFormat;'],
      [
        'require("ajv-formats/dist/formats").fullFormats["date-time"];',
        'require("ajv-formats/dist/formats").dateTimeFormat;',
      ],
    ],
    patchedBy: 'uri-reference',
  },
  {
    // path-to-regexp's identifier expressions use Unicode's ID_Start and ID_Continue classes, which V8 builds
    // through ICU when the literal is evaluated, at every start. They read route parameter names (`:id`) only:
    // each is built at its first test(), so a process whose routes have no parameter never builds them.
    file: 'path-to-regexp/dist/index.js',
    replace: [
      [
        'const ID_START = /^[$_\\p{ID_Start}]$/u;',
        'let idStart; const ID_START = { test: (s) => (idStart ??= /^[$_\\p{ID_Start}]$/u).test(s) };',
      ],
      [
        'const ID_CONTINUE = /^[$\\u200c\\u200d\\p{ID_Continue}]$/u;',
        'let idContinue; const ID_CONTINUE = { test: (s) => (idContinue ??= /^[$\\u200c\\u200d\\p{ID_Continue}]$/u).test(s) };',
      ],
      [
        'const ID = /^[$_\\p{ID_Start}][$\\u200c\\u200d\\p{ID_Continue}]*$/u;',
        'let id; const ID = { test: (s) => (id ??= /^[$_\\p{ID_Start}][$\\u200c\\u200d\\p{ID_Continue}]*$/u).test(s) };',
      ],
    ],
  },
];

const pathPattern = (file) =>
  new RegExp(`[\\\\/]node_modules[\\\\/]${file.replaceAll('.', '\\.').replaceAll('/', '[\\\\/]')}$`);

/**
 * `source` of the package file at `path` with its rewrites applied (unchanged when it has none).
 * @param {string} path
 * @param {string} source
 */
export function applyLazyRequires(path, source) {
  const entry = lazyRequires.find(({ file }) => pathPattern(file).test(path));
  let patched = source;
  for (const [from, to] of entry?.replace ?? []) {
    if (!patched.includes(from))
      throw new Error(`${path}: "${from}" not found; review ${entry?.file} in build/lazy-requires-plugin.mjs`);
    patched = patched.replace(from, () => to);
  }
  return patched;
}

/**
 * Node built-ins every role imports somewhere but a start rarely calls: node:crypto (uuid in the CloudEvents SDK,
 * Koa's cookies, our ids, hashes and signatures; ~1 ms and 0.75 MiB RSS for OpenSSL's set-up) and node:https
 * (the SDK's transport, which the runtime does not use; ~2 ms, 1.1 MiB). Every import of them in the bundle
 * gets a stand-in that loads the real module at the first property read: `crypto.randomUUID()` works as
 * before, the load just moves to that call. Reading `__esModule` (esbuild's and TypeScript's interop helpers
 * do, at import) answers undefined without loading: a built-in is never an ES module namespace. Listing the
 * stand-in's keys gives none (nothing in the bundle lists a built-in's).
 */
const lazyBuiltins = /^(node:)?(crypto|https)$/;
const lazyBuiltinNamespace = 'lazy-builtin';

/**
 * The stand-in's source. An import of it goes through esbuild's __toESM, which copies every own property name of
 * a module onto a new object as a getter: with node:crypto's ~80 names, at each of the bundle's 14 import sites,
 * that was ~1,100 getters and as many map transitions at every start. The stand-in therefore has no own names;
 * __toESM's object takes the stand-in's prototype, `forward`, which answers any name it is asked for from the real
 * module: `import_crypto.randomUUID` misses the object's own properties and is read through it.
 * @param {string} name
 */
function lazyBuiltinModule(name) {
  return `let loaded;
const real = () => (loaded ??= require('node:${name}'));
const read = (_, key) => (key === '__esModule' ? undefined : real()[key]);
const has = (_, key) => key in real();
const forward = new Proxy({}, { get: read, has });
module.exports = new Proxy({}, { get: read, has, ownKeys: () => [], getPrototypeOf: () => forward });
`;
}

/** @type {import('esbuild').Plugin} */
export const lazyRequiresPlugin = {
  name: 'lazy-requires',
  setup(b) {
    b.onResolve({ filter: lazyBuiltins }, (args) =>
      args.namespace === lazyBuiltinNamespace
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: lazyBuiltinNamespace },
    );
    b.onLoad({ filter: /.*/, namespace: lazyBuiltinNamespace }, (args) => ({
      loader: 'js',
      contents: lazyBuiltinModule(args.path),
    }));
    for (const { file } of lazyRequires.filter((entry) => !entry.patchedBy)) {
      b.onLoad({ filter: pathPattern(file) }, (args) => ({
        contents: applyLazyRequires(args.path, readFileSync(args.path, 'utf8')),
        loader: 'js',
      }));
    }
  },
};
