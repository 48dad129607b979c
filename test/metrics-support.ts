// Shared by the metrics tests: reading the text exposition format, CloudEvent requests, the environment that
// starts each role on loopback, and the external tools (prometheus, promtool) that must be installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../runtime/config.js';
import { freePort } from './helpers/bundle.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { waitFor } from './helpers/wait.js';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text (or OpenMetrics) exposition; comment lines are skipped. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function sumOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(
  baseUrl: string,
  options: { path?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(new URL((options.path ?? '/metrics').slice(1), baseUrl), { headers: options.headers });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** POSTs one binary-mode CloudEvent and returns the status. */
export async function postEvent(
  url: string,
  type: string,
  options: { id?: string; data?: unknown } = {},
): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': options.id ?? crypto.randomUUID(),
      'ce-source': '/tests/metrics',
      'ce-type': type,
    },
    body: JSON.stringify(options.data ?? { n: 1 }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Fails (never skips) with what to install when a tool is missing. */
export function requireTool(name: 'prometheus' | 'promtool'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(
      `${name} is not installed: install the Debian package "prometheus" (apt-get install -y prometheus), as .ci/run does in CI`,
    );
  }
  return path;
}

export interface RoleSetup {
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * How to start each role on loopback with its own stand-ins. A Record over Role: a role added to config.ts
 * without an entry here fails the type check, so no role goes unchecked.
 */
export const roleSetups: Record<Role, () => Promise<RoleSetup>> = {
  handler: async () => withReceiver((receiver) => ({ ROLE: 'handler', BROKER_URL: receiver.url })),
  subscriber: async () => ({ env: { ROLE: 'subscriber', FUNCTION: 'echo' }, close: async () => {} }),
  'sink-forwarder': async () =>
    withReceiver((receiver) => ({ ROLE: 'sink-forwarder', FUNCTION: 'echo', KAFKA_SINK_URL: receiver.url })),
  dlq: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ke-metrics-dlq-'));
    return { env: { ROLE: 'dlq', DLQ_FILE: join(dir, 'dead-letters.jsonl') }, close: async () => {} };
  },
};

async function withReceiver(envFor: (receiver: Receiver) => Record<string, string>): Promise<RoleSetup> {
  const receiver = await startReceiver();
  return { env: envFor(receiver), close: () => receiver.close() };
}

export interface PrometheusServer {
  readonly url: string;
  /** An instant query through /api/v1/query; throws with Prometheus' error for a bad expression. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  logs(): string;
  stop(): Promise<void>;
}

export interface ScrapeJob {
  readonly job: string;
  readonly target: string;
  readonly path?: string;
  readonly bearer?: string;
}

/** A real Prometheus on a free loopback port, with a temporary config and storage, scraping every second. */
export async function startPrometheus(jobs: readonly ScrapeJob[]): Promise<PrometheusServer> {
  const binary = requireTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'ke-prometheus-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: jobs.map((job) => ({
      job_name: job.job,
      metrics_path: job.path ?? '/metrics',
      ...(job.bearer === undefined ? {} : { authorization: { type: 'Bearer', credentials: job.bearer } }),
      static_configs: [{ targets: [job.target] }],
    })),
  };
  // JSON is YAML, so the config needs no YAML writer.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (running) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (!running) throw new Error(`prometheus exited during start-up:\n${output}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      20_000,
      { what: 'prometheus to answer /-/ready', intervalMs: 200, errors: 'throw' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success' || !body.data) throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
      return body.data.result;
    },
    logs: () => output,
    stop,
  };
}

/** Every query in the Grafana dashboard the chart ships, with its panel's title. */
export function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const dashboard = JSON.parse(
    readFileSync(new URL('../chart/dashboards/knative-events.json', import.meta.url), 'utf8'),
  ) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}
