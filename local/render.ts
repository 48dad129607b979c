// Renders the chart with the real `helm template` and returns its output. The values files may carry a
// top-level `local:` section with settings for this runner only (secrets file, output folder, ports);
// the runner reads it here and hands helm a copy without it, so the chart never depends on it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseDocument } from 'yaml';
import { RunnerError } from './errors.js';

export interface SpawnResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: Error;
}
export type SpawnSync = (
  cmd: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
) => SpawnResult;

export interface LocalSettings {
  /** A YAML file of Kubernetes Secrets for local runs: <secret name>: {<key>: <value>}. */
  readonly secretsFile?: string;
  /** Where sink files, volumes, logs and the state file go. */
  readonly outDir?: string;
  /** First port of the sequence handlers, services, broker and sink ingress listen on; 0 = any free ports. */
  readonly port?: number;
}

export interface RenderRequest {
  readonly helm: string;
  readonly chartDir: string;
  readonly valuesFiles: readonly string[];
  readonly release: string;
  readonly namespace: string;
  readonly cwd: string;
  readonly spawn: SpawnSync;
  readonly env: NodeJS.ProcessEnv;
}

function readLocalSection(file: string): { local: LocalSettings; stripped: string | undefined } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunnerError(
      `values file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): pass an existing file, e.g. npm start -- values/local.yaml`,
    );
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new RunnerError(`values file ${file} is not valid YAML: ${(doc.errors[0]?.message ?? '').split('\n')[0]}`);
  const local = doc.get('local', false);
  if (local === undefined) return { local: {}, stripped: undefined };
  const settings = (doc.toJS() as { local?: unknown }).local;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    throw new RunnerError(`${file}: local: expected a map (secretsFile, outDir, port)`);
  const s = settings as Record<string, unknown>;
  const unknown = Object.keys(s).filter((k) => !['secretsFile', 'outDir', 'port'].includes(k));
  if (unknown.length > 0)
    throw new RunnerError(`${file}: local.${unknown[0]} is not a runner setting (secretsFile, outDir, port)`);
  if (s.port !== undefined && (!Number.isInteger(s.port) || (s.port as number) < 0 || (s.port as number) > 65535))
    throw new RunnerError(`${file}: local.port: expected a port number (0 = any free ports)`);
  doc.delete('local');
  return {
    local: {
      secretsFile: typeof s.secretsFile === 'string' ? s.secretsFile : undefined,
      outDir: typeof s.outDir === 'string' ? s.outDir : undefined,
      port: s.port as number | undefined,
    },
    stripped: doc.toString(),
  };
}

/** The rendered manifests and the merged `local:` settings (later files win). */
export function renderChart(req: RenderRequest): { manifests: string; local: LocalSettings } {
  let local: LocalSettings = {};
  const temp = mkdtempSync(join(tmpdir(), 'knative-events-values-'));
  try {
    const files = req.valuesFiles.map((file, i) => {
      const read = readLocalSection(file);
      local = { ...local, ...Object.fromEntries(Object.entries(read.local).filter(([, v]) => v !== undefined)) };
      if (read.stripped === undefined) return file;
      const copy = join(temp, `${i}-${basename(file)}`);
      writeFileSync(copy, read.stripped);
      return copy;
    });
    const args = [
      'template',
      req.release,
      req.chartDir,
      '--namespace',
      req.namespace,
      ...files.flatMap((f) => ['-f', f]),
    ];
    const result = req.spawn(req.helm, args, { cwd: req.cwd, env: req.env });
    if (result.error)
      throw new RunnerError(
        `helm could not run (${result.error.message}): run \`node build/setup-helm.mjs\` or put helm on PATH`,
      );
    if (result.status !== 0) {
      const why =
        result.stderr
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .filter((l) => !l.startsWith('Use --debug'))
          .join(' ') || `exit code ${result.status}`;
      throw new RunnerError(
        `the chart does not render with ${req.valuesFiles.join(', ')}: ${why.replaceAll(temp + '/', '')} — fix the values file`,
      );
    }
    return { manifests: result.stdout, local };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
