// run.mjs's summary in the shape of issue 19's table: every server's req/s, cold start and idle RSS as ratios
// to the floor (bare node:http doing the same work) and req/s also to the limit (plain Koa doing it); the
// forwarders against the bare forwarder, plain Koa's forwarder and posting straight to the broker stand-in.
import { ratio } from './stats.mjs';

/** @typedef {import('./measure.mjs').Served} Served */

/** Servers in the echo part, in the order shown, with what each row says. */
const echoRows = [
  ['koaMinimal', 'plain Koa echo, bundled (the limit)'],
  ['ours', 'this runtime, defaults (info logs, metrics on)'],
  ['oursNoMetrics', 'this runtime, METRICS_ENABLED=false'],
  ['oursQuiet', 'this runtime, LOG_LEVEL=warn'],
  ['oursLean', 'this runtime, LOG_LEVEL=warn, metrics off'],
  ['oursBinary', 'single executable + code cache'],
  ['oursBinaryNoCache', 'single executable, no code cache'],
  ['functionsFramework', 'functions-framework (CloudEvent)'],
  ['faasJsRuntime', 'faas-js-runtime'],
];

/**
 * @param {{ coldStart: Record<string, { medianMs: number }>, load: Record<string, Record<number, { requestsPerSecond: number }>>, memory: Record<string, { idleMiB: number }>, forwarding: import('./measure-forwarding.mjs').Forwarding }} r
 */
export function renderIssueTable(r) {
  const rps = (/** @type {string} */ n, /** @type {number} */ c) => r.load[n]?.[c]?.requestsPerSecond;
  const lines = [
    '| ÷ floor (bare node:http, same work) | req/s @10 | req/s @100 | req/s @10 ÷ plain Koa | cold start | idle RSS |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, label] of echoRows) {
    if (!r.load[name] && !r.coldStart[name]) continue;
    lines.push(
      `| ${label} | ${ratio(rps(name, 10), rps('bare', 10))} | ${ratio(rps(name, 100), rps('bare', 100))} | ${ratio(rps(name, 10), rps('koaMinimal', 10))} | ${ratio(r.coldStart[name]?.medianMs, r.coldStart.bare?.medianMs)} | ${ratio(r.memory[name]?.idleMiB, r.memory.bare?.idleMiB)} |`,
    );
  }
  lines.push(
    '',
    '| forwarding, req/s @10 | ÷ bare forwarder (floor) | ÷ plain Koa forwarder (limit) | ÷ posting straight to the stand-in |',
    '| --- | --- | --- | --- |',
  );
  const f = r.forwarding;
  const straight = f.direct[10]?.requestsPerSecond;
  for (const [role, name, label] of [
    ['handler', 'limit', 'plain Koa forwarder, bundled'],
    ['handler', 'ours', 'handler (legacy ce_ input, structured out)'],
    ['sink', 'limit', 'plain Koa forwarder, binary input'],
    ['sink', 'ours', 'sink-forwarder (binary in and out, echo)'],
  ]) {
    const of = (/** @type {string} */ n) => f[role][n]?.load[10]?.requestsPerSecond;
    lines.push(
      `| ${label} | ${ratio(of(name), of('floor'))} | ${ratio(of(name), of('limit'))} | ${ratio(of(name), straight)} |`,
    );
  }
  lines.push(
    `| bare forwarder | 1.00x | ${ratio(f.handler.floor?.load[10]?.requestsPerSecond, f.handler.limit?.load[10]?.requestsPerSecond)} | ${ratio(f.handler.floor?.load[10]?.requestsPerSecond, straight)} |`,
  );
  return lines.join('\n');
}
