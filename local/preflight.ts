// Before anything starts: every secret the rendered services will ask for is in the local secrets file, or the
// run stops with one message listing all that is missing, in the file's own format, and how to pass the file.
// Generic: it reads what the manifests ask for, not what today's values files happen to contain —
//   env valueFrom.secretKeyRef and envFrom.secretRef   → secrets: <Secret>: {<key>: …}
//   Vault agent files (agent-inject-secret-<file>)     → files: <file>: {…}
//   Vault direct mode                                  → files: (any name) with the keys it would read
//   `secret:NAME` / `${secret:NAME}` references in env  → a key NAME in one of files:
//   HANDLER_AUTH bearer/hmac                           → the key HANDLER_AUTH_SECRET names (HANDLER_AUTH_KEYS)
import type { Adapted } from './adapt.js';
import type { ServiceManifest } from './manifests.js';
import type { LocalSecrets } from './secrets.js';

export interface Missing {
  /** Why, one line per requirement, with the services that have it. */
  readonly reasons: readonly string[];
  /** file → keys (empty: the file itself) */
  readonly files: ReadonlyMap<string, ReadonlySet<string>>;
  /** Secret → keys (empty: the Secret itself) */
  readonly secrets: ReadonlyMap<string, ReadonlySet<string>>;
}

const whole = /^\s*secret:([A-Za-z_][A-Za-z0-9_.-]*)\s*$/;
const embedded = /\$\{secret:([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

function referenced(value: string): string[] {
  const one = whole.exec(value);
  return one?.[1] ? [one[1]] : [...value.matchAll(embedded)].map((m) => m[1] as string);
}

const plain = (s: ServiceManifest, name: string): string | undefined => {
  const source = s.env.find((e) => e.name === name)?.source;
  return source && 'value' in source ? source.value : undefined;
};

/** What is missing so far, and why; filled in service by service, each reason once with every service that has it. */
class Needs {
  readonly reasons = new Map<string, string[]>();
  readonly files = new Map<string, Set<string>>();
  readonly secrets = new Map<string, Set<string>>();

  /** A key (or, without one, the file or Secret itself) is needed. */
  need(map: Map<string, Set<string>>, name: string, key?: string): void {
    const keys = map.get(name) ?? new Set<string>();
    if (key !== undefined) keys.add(key);
    map.set(name, keys);
  }

  because(reason: string, service: string): void {
    this.reasons.set(reason, [...(this.reasons.get(reason) ?? []), service]);
  }
}

/** Kubernetes Secrets the service's env (secretKeyRef) and envFrom (secretRef) read, unless optional. */
function kubernetesSecrets(s: ServiceManifest, secrets: LocalSecrets, needs: Needs): void {
  for (const { name, source } of s.env) {
    if (!('secretKeyRef' in source) || source.secretKeyRef.optional) continue;
    const { name: secret, key } = source.secretKeyRef;
    if (secrets.secrets[secret]?.[key] !== undefined) continue;
    needs.need(needs.secrets, secret, key);
    needs.because(`env ${name} comes from Secret ${secret} key ${key}`, s.short);
  }
  for (const ref of s.envFromSecrets) {
    if (ref.optional || secrets.secrets[ref.name] !== undefined) continue;
    needs.need(needs.secrets, ref.name);
    needs.because(`envFrom takes every key of Secret ${ref.name}`, s.short);
  }
}

/** The files Vault would give the service: each agent file, and for direct mode at least one file. */
function vaultFiles(s: ServiceManifest, adapted: Adapted, secrets: LocalSecrets, needs: Needs): void {
  for (const file of s.vaultAgentFiles) {
    if (secrets.files[file] !== undefined) continue;
    needs.need(needs.files, file);
    needs.because(`the Vault agent writes the file ${file} (vault.secrets.${file})`, s.short);
  }
  if (adapted.vaultDirect.includes(s.short) && Object.keys(secrets.files).length === 0) {
    needs.need(needs.files, 'vault');
    needs.because('Vault direct mode reads its secrets from Vault: give their keys in any file under files:', s.short);
  }
}

/**
 * Keys the service reads from its Vault files: `secret:` references in its env, and the caller keys of a
 * handler with HANDLER_AUTH on. Any file may hold them (`fileKeys`: the keys of every file); a missing one is
 * asked for in the service's first file (or the first one defined).
 */
function secretKeys(
  s: ServiceManifest,
  adapted: Adapted,
  secrets: LocalSecrets,
  fileKeys: ReadonlySet<string>,
  needs: Needs,
): void {
  const usesVault =
    s.vaultAgentFiles.length > 0 ||
    adapted.vaultDirect.includes(s.short) ||
    s.env.some((e) => e.name === 'VAULT_SECRETS_DIR');
  const home = s.vaultAgentFiles[0] ?? Object.keys(secrets.files)[0] ?? 'app';
  for (const { name, source } of s.env) {
    if (!('value' in source)) continue;
    for (const key of referenced(source.value).filter((k) => !fileKeys.has(k))) {
      needs.need(needs.files, home, key);
      needs.because(
        `env ${name} refers to the secret ${key}${usesVault ? '' : ' (Vault must be on for it: vault.mode agent)'}`,
        s.short,
      );
    }
  }
  const auth = plain(s, 'HANDLER_AUTH');
  if (plain(s, 'ROLE') === 'handler' && (auth === 'hmac' || auth === 'bearer')) {
    const key = plain(s, 'HANDLER_AUTH_SECRET') ?? 'HANDLER_AUTH_KEYS';
    if (!fileKeys.has(key)) {
      needs.need(needs.files, home, key);
      needs.because(
        `HANDLER_AUTH=${auth} checks callers against the comma-separated keys in the secret ${key}`,
        s.short,
      );
    }
  }
}

export function findMissing(adapted: Adapted, secrets: LocalSecrets): Missing {
  const needs = new Needs();
  const fileKeys = new Set(Object.values(secrets.files).flatMap((f) => Object.keys(f)));
  for (const s of adapted.manifests.services) {
    kubernetesSecrets(s, secrets, needs);
    vaultFiles(s, adapted, secrets, needs);
    secretKeys(s, adapted, secrets, fileKeys, needs);
  }
  return {
    reasons: [...needs.reasons].map(([reason, services]) => `${[...new Set(services)].join(', ')}: ${reason}`),
    files: needs.files,
    secrets: needs.secrets,
  };
}

function skeleton(missing: Missing): string[] {
  const lines: string[] = [];
  const section = (
    title: string,
    comment: string,
    map: ReadonlyMap<string, ReadonlySet<string>>,
    placeholder: string,
  ) => {
    if (map.size === 0) return;
    lines.push(`  ${title}:`.padEnd(30) + `# ${comment}`);
    for (const [name, keys] of map) {
      lines.push(`    ${name}:`);
      for (const key of keys.size > 0 ? keys : [placeholder]) lines.push(`      ${key}: <value>`);
    }
  };
  section('files', 'what the Vault agent would write (KEY: value)', missing.files, 'KEY');
  section('secrets', 'Kubernetes Secrets (secretKeyRef, envFrom)', missing.secrets, 'key');
  return lines;
}

export function missingMessage(
  missing: Missing,
  context: { values: string; secretsFile: string | undefined },
): string | undefined {
  if (missing.reasons.length === 0) return undefined;
  const have = context.secretsFile
    ? `the local secrets file ${context.secretsFile} does not have`
    : 'no local secrets file was given for';
  return [
    `${context.values} needs secrets that ${have} (nothing was started):`,
    ...missing.reasons.map((r) => `  - ${r}`),
    'Missing, in the local secrets file format:',
    ...skeleton(missing),
    context.secretsFile
      ? `Add them to ${context.secretsFile} and start again.`
      : `Copy the example where git does not look, fill it in, and pass it:\n  mkdir -p .local-run && cp values/local-secrets.example.yaml .local-run/secrets.yaml     # .local-run/ is git-ignored\n  npm start -- ${context.values.split(', ').join(' ')} --secrets .local-run/secrets.yaml     (or set local.secretsFile in a values file)`,
  ].join('\n');
}
