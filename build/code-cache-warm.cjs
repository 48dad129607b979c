// Makes the V8 code cache for the bundle's code (build/code-cache.mjs runs it in its own process):
//
//   node build/code-cache-warm.cjs <module-source-file> <cache-file> <bundle-file>
//
// compiles the source exactly as build/code-cache-loader.cjs will, runs it as a subscriber (the echo function)
// and then as a handler (against a broker stand-in that accepts everything), each until it has answered one
// real event, and writes the cache. The cache then holds every function those starts and first requests
// compiled, which the sink-forwarder and dlq share for the most part. Each run evaluates the same script again:
// its functions are compiled once and shared by both runs. The flag dance is the loader's: see there.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS script, like the bundle it runs */
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const http = require('node:http');
const { dirname } = require('node:path');
const v8 = require('node:v8');
const { Script } = require('node:vm');

const [sourceFile, cacheFile, bundleFile] = process.argv.slice(2);
const deadline = Date.now() + 60_000;
const event = JSON.stringify({ tradeId: 'T-1', qty: 10 });
const probes = {
  subscriber: {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': 'warm-1',
    'ce-source': '/build',
    'ce-type': 'build.warm',
  },
  handler: { 'content-type': 'application/json', ce_type: 'build.warm', ce_source: '/build' },
};

function freePort() {
  const server = http.createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    }),
  );
}

function post(port, headers) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(event);
  });
}

/** Posts the role's probe until it is answered 2xx: the run then covers start-up and one whole request. */
async function firstAnswer(port, headers) {
  for (;;) {
    const status = await post(port, headers);
    if (status >= 200 && status < 300) return;
    if (status >= 300) throw new Error(`the bundle answered ${status} to the warm-up event`);
    if (Date.now() > deadline) throw new Error('the bundle did not answer the warm-up event within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One more evaluation of the script as a main module, with the role's environment in place of the last one's. */
async function runRole(script, env) {
  const port = await freePort();
  for (const name of ['ROLE', 'FUNCTION', 'BROKER_URL']) delete process.env[name];
  Object.assign(process.env, env, { PORT: String(port) });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, bundleFile, dirname(bundleFile));
  await firstAnswer(port, probes[env.ROLE]);
}

async function main() {
  const script = new Script(readFileSync(sourceFile, 'utf8'), { filename: bundleFile });
  const broker = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(202).end()));
  await new Promise((resolve) => broker.listen(0, '127.0.0.1', () => resolve(undefined)));
  const brokerUrl = `http://127.0.0.1:${broker.address().port}/ns/default`;
  await runRole(script, { ROLE: 'subscriber', FUNCTION: 'echo' });
  await runRole(script, { ROLE: 'handler', BROKER_URL: brokerUrl });
  v8.setFlagsFromString('--verify-snapshot-checksum');
  writeFileSync(cacheFile, script.createCachedData());
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`code cache warm-up failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
