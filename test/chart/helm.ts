// Runs the pinned helm binaries (.tools/helm3, .tools/helm4) for the chart tests.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { ObjectRef } from './integrity.js';
import { ROOT, pinnedHelmPath } from '../../build/helm-path.mjs';
import { setupHelm } from '../../build/setup-helm.mjs';

export type HelmMajor = 3 | 4;
export const HELM_MAJORS: readonly HelmMajor[] = [3, 4];
export const CHART_DIR = join(ROOT, 'chart');
export const RELEASE = 'ev';
export const NAMESPACE = 'events';

/**
 * The pinned binaries as this test run found them installed and of the pinned versions, in the run's folder
 * (KNATIVE_EVENTS_TEST_RUN_DIR, see test/run-tests.mjs): the chart's test processes after the first skip asking
 * each binary its version (two helm starts, ~0.3 s of CPU, per process). Keyed by each binary's size and mtime, so
 * a binary replaced during the run is checked again; outside a run (no folder) every process checks.
 */
const checkedFile = process.env.KNATIVE_EVENTS_TEST_RUN_DIR ? join(process.env.KNATIVE_EVENTS_TEST_RUN_DIR, 'helm-checked.json') : undefined;
const binariesNow = () => JSON.stringify(HELM_MAJORS.map((m) => (existsSync(pinnedHelmPath(m)) ? [statSync(pinnedHelmPath(m)).size, statSync(pinnedHelmPath(m)).mtimeMs] : null)));

let ensured = false;
/** Makes sure both pinned helm binaries exist (installs them once if missing); throws a clear message otherwise. */
export function ensureHelm(): void {
  if (ensured) return;
  if (checkedFile && existsSync(checkedFile) && readFileSync(checkedFile, 'utf8') === binariesNow()) {
    ensured = true;
    return;
  }
  try {
    setupHelm();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`helm is missing and could not be installed (${why}): run \`node build/setup-helm.mjs\``);
  }
  for (const m of HELM_MAJORS) {
    if (!existsSync(pinnedHelmPath(m))) throw new Error(`helm ${m} not found: run \`node build/setup-helm.mjs\``);
  }
  if (checkedFile) {
    const tmp = `${checkedFile}.${process.pid}.tmp`;
    writeFileSync(tmp, binariesNow());
    renameSync(tmp, checkedFile);
  }
  ensured = true;
}

export interface HelmResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Every file under a directory, sorted (the chart's inputs). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

const CACHE_DIR = join(ROOT, '.tools', 'render-cache');

/**
 * The cache key of one helm run: the binary, the arguments, and the bytes of every input (each chart file and
 * each values file named by -f). The same inputs give the same output, so a run is reused across test files
 * (each runs in its own process); any edit to the chart or a values file makes a new key.
 */
let chartDigest: string | undefined;
function cacheKey(major: HelmMajor, args: string[]): string {
  // the chart's bytes, read once per test process (a test run does not edit the chart)
  if (chartDigest === undefined) {
    const c = createHash('sha256');
    // chart/README.md is documentation: no template reads it, so editing it keeps the cached renders
    for (const f of filesUnder(CHART_DIR).filter((x) => relative(CHART_DIR, x) !== 'README.md')) c.update(`${relative(CHART_DIR, f)}\0`).update(readFileSync(f)).update('\0');
    chartDigest = c.digest('hex');
  }
  const h = createHash('sha256');
  const bin = pinnedHelmPath(major);
  h.update(`${bin}\0${statSync(bin).size}\0${chartDigest}\0${JSON.stringify(args)}\0`);
  args.forEach((a, i) => {
    if (args[i - 1] !== '-f') return;
    const file = isAbsolute(a) ? a : join(ROOT, a);
    h.update(`${a}\0`).update(existsSync(file) ? readFileSync(file) : 'missing').update('\0');
  });
  return h.digest('hex');
}

/** helm template and helm lint are pure functions of their inputs: their results are cached (see cacheKey). */
const CACHEABLE = new Set(['template', 'lint']);

export function helm(major: HelmMajor, args: string[]): HelmResult {
  ensureHelm();
  const cacheFile = CACHEABLE.has(args[0] ?? '') ? join(CACHE_DIR, `${cacheKey(major, args)}.json`) : undefined;
  if (cacheFile && existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, 'utf8')) as HelmResult;
  // GOMAXPROCS=1: a render is one goroutine's work; with one P its garbage collector does not spread over both
  // cores (60 renders of full-values side by side, alternating: 6% less CPU), and the other test slot has that core
  const r = spawnSync(pinnedHelmPath(major), args, { encoding: 'utf8', cwd: ROOT, env: { ...process.env, GOMAXPROCS: '1', HELM_CACHE_HOME: join(ROOT, '.tools', 'helm-cache'), HELM_CONFIG_HOME: join(ROOT, '.tools', 'helm-config'), HELM_DATA_HOME: join(ROOT, '.tools', 'helm-data') } });
  if (r.error) throw r.error;
  const result: HelmResult = { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
  if (cacheFile) {
    // written whole then renamed, so a test file running at the same time never reads half a result
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(result));
    renameSync(tmp, cacheFile);
  }
  return result;
}

export interface RenderOptions {
  files?: string[];
  set?: string[];
  setJson?: string[];
  release?: string;
  namespace?: string;
}

function valueArgs(o: RenderOptions): string[] {
  return [
    ...(o.files ?? []).flatMap((f) => ['-f', f]),
    ...(o.set ?? []).flatMap((s) => ['--set', s]),
    ...(o.setJson ?? []).flatMap((s) => ['--set-json', s]),
  ];
}

export function template(major: HelmMajor, o: RenderOptions = {}): HelmResult {
  return helm(major, ['template', o.release ?? RELEASE, CHART_DIR, '--namespace', o.namespace ?? NAMESPACE, ...valueArgs(o)]);
}

export function lint(major: HelmMajor, o: RenderOptions = {}): HelmResult {
  return helm(major, ['lint', '--strict', CHART_DIR, '--namespace', o.namespace ?? NAMESPACE, ...valueArgs(o)]);
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** Parses `helm template` output; throws on YAML errors or documents that are not objects with kind/apiVersion. */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    const js: unknown = doc.toJS();
    if (js === null || js === undefined) continue;
    if (typeof js !== 'object' || Array.isArray(js)) throw new Error(`document is not an object: ${String(doc)}`);
    const o = js as K8sObject;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new Error(`document without apiVersion/kind/metadata.name: ${String(doc).slice(0, 200)}`);
    }
    out.push(o);
  }
  return out;
}

/**
 * This process's parsed renders, by their text: the chart's tests render the same inputs again and again (the
 * defaults, each values file; 146 renders, 39 distinct texts in one process), and parsing the YAML took longer than
 * reading helm's cached output.
 */
const parsedRenders = new Map<string, K8sObject[]>();

/** Renders and parses; throws with helm's stderr when the render fails. Every call gets objects of its own. */
export function render(major: HelmMajor, o: RenderOptions = {}): K8sObject[] {
  const r = template(major, o);
  if (!r.ok) throw new Error(`helm ${major} template failed:\n${r.stderr}`);
  let objs = parsedRenders.get(r.stdout);
  if (!objs) {
    objs = parseManifests(r.stdout);
    parsedRenders.set(r.stdout, objs);
  }
  // a copy: a test may change what it was given, and the next test must see the render as helm printed it
  return structuredClone(objs);
}

/** Every values file the chart is tested with: values/*.yaml and chart/ci/*-values.yaml. */
export function valuesFiles(): string[] {
  // values/local-secrets*.yaml is the local runner's secrets file (files:/secrets:), not chart values
  const envs = readdirSync(join(ROOT, 'values')).filter((f) => f.endsWith('.yaml') && !f.startsWith('local-secrets')).sort().map((f) => join('values', f));
  const ciDir = join(CHART_DIR, 'ci');
  const ci = existsSync(ciDir) ? readdirSync(ciDir).filter((f) => f.endsWith('-values.yaml')).sort().map((f) => join('chart', 'ci', f)) : [];
  return [...envs, ...ci];
}

export function byKind(objs: K8sObject[], kind: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind);
}

export function find(objs: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objs.find((o) => o.kind === kind && o.metadata.name === name);
}

/** Names the chart derives from immutable fields end in -<8 hex>: the object whose name is `base` plus that hash. */
export function findHashed(objs: K8sObject[], kind: string, base: string): K8sObject | undefined {
  const matches = objs.filter((o) => o.kind === kind && o.metadata.name.startsWith(`${base}-`) && /^[0-9a-f]{8}$/.test(o.metadata.name.slice(base.length + 1)));
  if (matches.length > 1) throw new Error(`several ${kind} named ${base}-<hash>: ${matches.map((o) => o.metadata.name).join(', ')}`);
  return matches[0];
}

/** Objects a values file declares as existing outside the release. */
export function externalsOf(file: string): ObjectRef[] {
  const v = (parse(readFileSync(join(ROOT, file), 'utf8')) ?? {}) as { broker?: { create?: boolean; name?: string; namespace?: string } };
  if (v.broker?.create === false && v.broker.name) {
    return [{ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: v.broker.name, namespace: v.broker.namespace ?? NAMESPACE }];
  }
  return [];
}
