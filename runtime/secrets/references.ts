// Config values that name a secret instead of holding it, so a role's BROKER_URL (or any other variable) can
// come from Vault only: `BROKER_URL=secret:BROKER_URL` (the whole value) or
// `KAFKA_SINK_URL=http://sink/${secret:SINK_PATH}` (inside a value). Resolved from the secret store before the
// role config is validated; the raw environment (with the references) is what error messages may quote.
import type { Secrets } from '../function-api.js';

const secretName = '[A-Za-z_][A-Za-z0-9_.-]*';
const whole = new RegExp(`^\\s*secret:(${secretName})\\s*$`);
const embedded = new RegExp(`\\$\\{secret:(${secretName})\\}`, 'g');

export interface ResolvedEnv {
  /** The environment with every reference replaced; a variable whose reference failed is left out. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One line per variable whose reference failed, naming the variable and the secret, never a value. */
  readonly problems: readonly string[];
  readonly unresolved: ReadonlySet<string>;
  /** Variable → the secret names it was built from: what a rotation has to watch. */
  readonly references: ReadonlyMap<string, readonly string[]>;
}

/** The secret names a value refers to (empty when it refers to none). */
export function referencedSecrets(value: string): string[] {
  const one = whole.exec(value);
  if (one?.[1]) return [one[1]];
  return [...value.matchAll(embedded)].map((m) => m[1] as string);
}

export function resolveSecretReferences(
  env: Readonly<Record<string, string | undefined>>,
  secrets: Secrets | undefined,
): ResolvedEnv {
  const out: Record<string, string | undefined> = {};
  const problems: string[] = [];
  const unresolved = new Set<string>();
  const references = new Map<string, readonly string[]>();
  for (const [key, value] of Object.entries(env)) {
    const names = value === undefined ? [] : referencedSecrets(value);
    if (value === undefined || names.length === 0) {
      out[key] = value;
      continue;
    }
    references.set(key, names);
    const missing = names.filter((name) => secrets?.get(name) === undefined);
    if (missing.length > 0) {
      unresolved.add(key);
      const where = secrets
        ? 'which the loaded Vault secrets do not contain'
        : 'but Vault is off (set VAULT_SECRETS_DIR or VAULT_ADDR)';
      problems.push(`${key}: refers to secret ${missing.join(', ')}, ${where}`);
      continue;
    }
    out[key] = whole.test(value)
      ? secrets?.get(names[0] as string)
      : value.replace(embedded, (_m, name: string) => secrets?.get(name) ?? '');
  }
  return { env: out, problems, unresolved, references };
}
