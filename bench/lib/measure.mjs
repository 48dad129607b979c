// The measurements the benchmark scripts share: cold starts round-robin over several servers, and a server
// under load at several connection counts with its memory before, during and after.
import { measureLoad } from './load.mjs';
import { memoryOf, resetPeak, startTimed, stop } from './processes.mjs';
import { median, quantile } from './stats.mjs';
import { log } from './options.mjs';
import { standIn } from './targets.mjs';

/** @typedef {import('./targets.mjs').Target} Target */
/** @typedef {{ headers: Record<string, string>, body: string, path?: string }} Probe */
/** @typedef {Awaited<ReturnType<typeof measureLoad>> & { peakMiB: number }} LoadResult */
/** @typedef {{ load: Record<number, LoadResult>, memory: { idleMiB: number, peakMiB: number } }} Served */

/**
 * Cold starts, round-robin over the servers so that drift on the machine touches each one alike.
 * @param {Record<string, Target>} servers
 * @param {{ starts: number, probe: Probe, check?: (name: string, answer: { status: number, body: string }) => void }} o
 */
export async function coldStarts(servers, o) {
  const names = Object.keys(servers);
  /** @type {Record<string, { ms: number[], cpu: number[] }>} */
  const samples = Object.fromEntries(names.map((n) => [n, { ms: [], cpu: [] }]));
  for (let i = 0; i < o.starts; i++) {
    for (const name of names) {
      const { child, coldStartMs, startCpuMs, firstAnswer } = await startTimed(servers[name], o.probe);
      await stop(child, 'SIGKILL');
      o.check?.(name, firstAnswer);
      samples[name].ms.push(coldStartMs);
      samples[name].cpu.push(startCpuMs);
    }
    log(`cold start ${i + 1}/${o.starts}`);
  }
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        medianMs: median(samples[n].ms),
        p90Ms: quantile(samples[n].ms, 0.9),
        cpuMedianMs: median(samples[n].cpu),
        samples: samples[n].ms,
      },
    ]),
  );
}

/** @typedef {{ probe: Probe, connections: number[], settings: { durationS: number, warmupS: number, idleSettleMs: number } }} LoadOptions */

/**
 * One load run (warm-up first) on a started server, with the peak RSS (VmHWM) of that run alone.
 * @param {{ child: import('node:child_process').ChildProcess, port: number }} server
 * @param {number} connections
 * @param {LoadOptions} o
 * @returns {Promise<LoadResult>}
 */
async function loadOnce({ child, port }, connections, o) {
  const pid = /** @type {number} */ (child.pid);
  resetPeak(pid);
  const result = await measureLoad({
    url: `http://127.0.0.1:${port}${o.probe.path ?? '/'}`,
    connections,
    durationS: o.settings.durationS,
    warmupS: o.settings.warmupS,
    headers: o.probe.headers,
    body: o.probe.body,
    pid,
  });
  return { ...result, peakMiB: memoryOf(pid).peakMiB };
}

/**
 * Several servers side by side: all started, idle RSS after `idleSettleMs`, then level by level each server
 * under load in turn, so drift on a shared machine touches every server alike at each level (the idle ones
 * cost nothing meanwhile); then all stopped.
 * @param {Record<string, Target>} servers
 * @param {LoadOptions} o
 * @returns {Promise<Record<string, Served>>}
 */
export async function loadSideBySide(servers, o) {
  /** @type {Record<string, Awaited<ReturnType<typeof startTimed>>>} */
  const started = {};
  try {
    for (const [name, target] of Object.entries(servers)) started[name] = await startTimed(target, o.probe);
    await new Promise((r) => setTimeout(r, o.settings.idleSettleMs));
    /** @type {Record<string, Served>} */
    const out = {};
    for (const [name, s] of Object.entries(started))
      out[name] = { load: {}, memory: { idleMiB: memoryOf(s.child.pid).rssMiB, peakMiB: NaN } };
    for (const connections of o.connections) {
      for (const [name, s] of Object.entries(started)) {
        log(`load ${servers[name].name} @${connections}`);
        out[name].load[connections] = await loadOnce(s, connections, o);
      }
    }
    for (const [name, s] of Object.entries(started)) {
      const peaks = Object.values(out[name].load).map((l) => l.peakMiB);
      out[name].memory.peakMiB = peaks.length ? Math.max(...peaks) : memoryOf(s.child.pid).peakMiB;
    }
    return out;
  } finally {
    await Promise.all(Object.values(started).map((s) => stop(s.child)));
  }
}

/** One server: loadSideBySide with nobody beside it. */
export async function loadAndMemory(/** @type {Target} */ target, /** @type {LoadOptions} */ o) {
  return (await loadSideBySide({ [target.name]: target }, o))[target.name];
}

/**
 * Runs `work` with a broker stand-in in its own process, given its URL; stops it afterwards.
 * @template T
 * @param {Probe} probe a request the stand-in accepts
 * @param {(url: string) => Promise<T>} work
 */
export async function withStandIn(probe, work) {
  const { child, port } = await startTimed(standIn, probe);
  try {
    return await work(`http://127.0.0.1:${port}/ns/default`);
  } finally {
    await stop(child);
  }
}

/** Non-2xx answers, errors and timeouts of one load run: anything but 0 means the figure is not a result. */
export const failures = (/** @type {{ non2xx: number, errors: number, timeouts: number }} */ l) =>
  l.non2xx + l.errors + l.timeouts;

/**
 * Every load run with a label (group, server and connection count), for failureReport.
 * @param {Record<string, Record<string, { load: Record<number, { non2xx: number, errors: number, timeouts: number }> }>>} groups
 */
export function loadRuns(groups) {
  return Object.entries(groups).flatMap(([group, servers]) =>
    Object.entries(servers).flatMap(([name, served]) =>
      Object.entries(served.load).map(([c, load]) => ({ label: `${group} ${name} @${c}`, load })),
    ),
  );
}

/**
 * Every load run's non-2xx + errors + timeouts on one line; when any is not 0, also a FAILED line on stderr
 * and exit code 1, so a fast wrong answer never passes for a result.
 * @param {{ label: string, load: { non2xx: number, errors: number, timeouts: number } }[]} runs
 */
export function failureReport(runs) {
  const bad = runs.filter((r) => failures(r.load) > 0);
  if (bad.length > 0) {
    const detail = bad.map(
      (r) => `${r.label}: ${r.load.non2xx} non-2xx, ${r.load.errors} errors, ${r.load.timeouts} timeouts`,
    );
    console.error(`\nFAILED: load runs with non-2xx answers, errors or timeouts (no result): ${detail.join('; ')}`);
    process.exitCode = 1;
  }
  return `non-2xx + errors + timeouts: ${runs.map((r) => `${r.label} ${failures(r.load)}`).join(', ')}`;
}
