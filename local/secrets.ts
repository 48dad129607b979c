// Secrets for local runs: a YAML file outside the repository (or git-ignored inside it), named by
// `local.secretsFile` in the values file or `--secrets`. Two sections, both optional:
//   files:   <file name>: {KEY: value}   what the Vault agent would render into VAULT_SECRETS_DIR; the
//            runner writes them (mode 0600) under <outDir>/secrets and points every service at that folder
//   secrets: <Secret name>: {key: value} Kubernetes Secrets that env valueFrom.secretKeyRef / envFrom name
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { RunnerError } from './errors.js';
import type { SpawnSync } from './render.js';

export interface LocalSecrets {
  readonly file: string | undefined;
  readonly files: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export const noSecrets: LocalSecrets = { file: undefined, files: {}, secrets: {} };

function stringMaps(raw: unknown, at: string): Record<string, Record<string, string>> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new RunnerError(`${at}: expected a map of name → {KEY: value}`);
  const out: Record<string, Record<string, string>> = {};
  for (const [name, values] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof values !== 'object' || values === null || Array.isArray(values))
      throw new RunnerError(`${at}.${name}: expected a map of KEY: value`);
    out[name] = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  }
  return out;
}

/** Refuses a secrets file that git would commit: local secrets never come from the repository. */
function checkNotInRepo(file: string, repoRoot: string, spawn: SpawnSync): void {
  const rel = relative(repoRoot, file);
  if (rel.startsWith('..') || isAbsolute(rel)) return;
  const ignored = spawn('git', ['check-ignore', '-q', rel], { cwd: repoRoot, env: process.env });
  if (ignored.status !== 0) {
    throw new RunnerError(
      `secrets file ${rel} is inside the repository and not git-ignored: move it outside the repo or under .local-run/ (ignored)`,
    );
  }
}

export function loadLocalSecrets(file: string | undefined, repoRoot: string, spawn: SpawnSync): LocalSecrets {
  if (!file) return noSecrets;
  const path = resolve(repoRoot, file);
  checkNotInRepo(path, repoRoot, spawn);
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RunnerError(
      code
        ? `secrets file ${path} cannot be read (${code}): create it (values/local-secrets.example.yaml is one to copy) or fix local.secretsFile / --secrets`
        : `secrets file ${path} is not valid YAML: fix it`,
    );
  }
  const doc = (raw ?? {}) as Record<string, unknown>;
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new RunnerError(`secrets file ${path}: expected a map with files: and/or secrets:`);
  const unknown = Object.keys(doc).filter((k) => k !== 'files' && k !== 'secrets');
  if (unknown.length > 0)
    throw new RunnerError(`secrets file ${path}: unknown section ${unknown[0]} (expected files: and/or secrets:)`);
  return {
    file: path,
    files: stringMaps(doc.files, `${path} files`),
    secrets: stringMaps(doc.secrets, `${path} secrets`),
  };
}

/** Writes `files:` as the Vault agent would (KEY="value", JSON-escaped) and returns the folder, or undefined when there are none. */
export function writeAgentFiles(secrets: LocalSecrets, dir: string): string | undefined {
  // Emptied first: a file left by an earlier run with another secrets file must not be read as this run's.
  rmSync(dir, { recursive: true, force: true });
  const names = Object.keys(secrets.files);
  if (names.length === 0) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of names) {
    const body = Object.entries(secrets.files[name] ?? {})
      .map(([k, v]) => `${k}=${JSON.stringify(v)}\n`)
      .join('');
    const target = join(dir, name);
    writeFileSync(target, body, { mode: 0o600 });
    chmodSync(target, 0o600);
  }
  return dir;
}
