// The Vault section of the configuration, read before anything else: other values may reference secrets.
import * as v from 'valibot';
import { boolean, isHttpUrl, section, seconds, type Env } from './fields.js';

/** Where the Vault agent injector writes its files unless told otherwise (its secret-volume-path default). */
export const defaultAgentSecretsDir = '/vault/secrets';
export const defaultServiceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const vaultSchema = v.object({
  VAULT_SECRETS_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  VAULT_ADDR: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(isHttpUrl, 'expected the Vault address, an http(s) URL such as https://vault.vault.svc:8200'),
    ),
  ),
  VAULT_ROLE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  /** `kubernetes`, `auth/kubernetes` and `/auth/kubernetes/` all name the same mount (the chart writes auth/<mount>). */
  VAULT_AUTH_PATH: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((p) => p.replace(/^\/+|\/+$/g, '').replace(/^auth\//, '')),
      v.regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'expected an auth mount such as auth/kubernetes'),
    ),
    'kubernetes',
  ),
  VAULT_SECRET_PATHS: v.optional(
    v.pipe(
      v.string(),
      v.transform((x) =>
        x
          .split(',')
          .map((p) => p.trim().replace(/^\/+|\/+$/g, ''))
          .filter(Boolean),
      ),
    ),
    '',
  ),
  VAULT_KV_VERSION: v.optional(
    v.pipe(v.string(), v.trim(), v.picklist(['1', '2'], 'expected 1 or 2'), v.transform(Number)),
    '2',
  ),
  VAULT_CACERT: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  VAULT_NAMESPACE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  VAULT_TOKEN_PATH: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), defaultServiceAccountTokenPath),
  VAULT_REFRESH_SECONDS: seconds(0.05, 86_400, 300),
  VAULT_STARTUP_DEADLINE_SECONDS: seconds(0, 3600, 60),
  VAULT_TIMEOUT_SECONDS: seconds(0.05, 600, 10),
  VAULT_SKIP_VERIFY: boolean('false'),
});

export type VaultConfig =
  | { readonly mode: 'off' }
  | {
      readonly mode: 'agent';
      readonly secretsDir: string;
      /** Fallback re-read interval; fs.watch events trigger a re-read sooner. */
      readonly refreshMs: number;
    }
  | {
      readonly mode: 'direct';
      readonly address: string;
      readonly role: string;
      /** The Kubernetes auth mount without `auth/`, e.g. `kubernetes`. */
      readonly authMount: string;
      /** API paths as read: `<mount>/data/<path>` for KV v2, `<mount>/<path>` for KV v1. */
      readonly secretPaths: readonly string[];
      readonly kvVersion: 1 | 2;
      readonly caCertFile: string | undefined;
      readonly namespace: string | undefined;
      readonly tokenPath: string;
      readonly refreshMs: number;
      readonly startupDeadlineMs: number;
      readonly timeoutMs: number;
      readonly skipVerify: boolean;
    };

/**
 * Agent mode when VAULT_SECRETS_DIR is set (the chart sets it in agent mode); direct mode when VAULT_ADDR is
 * set. The default directory is not probed: config stays a pure function of the environment, and main.ts
 * warns when /vault/secrets exists but nothing asked for it.
 */
export function vaultSection(env: Env, problems: string[]): VaultConfig | undefined {
  const x = section(vaultSchema, env, problems);
  if (!x) return undefined;
  if (x.VAULT_SECRETS_DIR && x.VAULT_ADDR) {
    problems.push(
      'VAULT_SECRETS_DIR, VAULT_ADDR: set one: VAULT_SECRETS_DIR for agent-injected files, VAULT_ADDR for the runtime to log in to Vault itself',
    );
    return undefined;
  }
  if (x.VAULT_SECRETS_DIR)
    return Object.freeze({ mode: 'agent', secretsDir: x.VAULT_SECRETS_DIR, refreshMs: x.VAULT_REFRESH_SECONDS });
  if (!x.VAULT_ADDR) return Object.freeze({ mode: 'off' });
  const before = problems.length;
  if (!x.VAULT_ROLE)
    problems.push(
      'VAULT_ROLE: is required when VAULT_ADDR is set: the Vault Kubernetes-auth role bound to this service account',
    );
  if (x.VAULT_SECRET_PATHS.length === 0)
    problems.push(
      'VAULT_SECRET_PATHS: is required when VAULT_ADDR is set: comma-separated paths such as secret/data/knative-events/app',
    );
  if (x.VAULT_KV_VERSION === 2) {
    const withoutData = x.VAULT_SECRET_PATHS.filter((p) => !/^[^/]+(\/[^/]+)*\/data\/.+/.test(p));
    if (withoutData.length > 0)
      problems.push(
        `VAULT_SECRET_PATHS: with VAULT_KV_VERSION 2 each path reads <mount>/data/<path>; add data/ to ${withoutData.join(', ')}`,
      );
  }
  if (problems.length > before || !x.VAULT_ROLE) return undefined;
  return Object.freeze({
    mode: 'direct',
    address: x.VAULT_ADDR.replace(/\/+$/, ''),
    role: x.VAULT_ROLE,
    authMount: x.VAULT_AUTH_PATH,
    secretPaths: Object.freeze(x.VAULT_SECRET_PATHS),
    kvVersion: x.VAULT_KV_VERSION === 1 ? 1 : 2,
    caCertFile: x.VAULT_CACERT,
    namespace: x.VAULT_NAMESPACE,
    tokenPath: x.VAULT_TOKEN_PATH,
    refreshMs: x.VAULT_REFRESH_SECONDS,
    startupDeadlineMs: x.VAULT_STARTUP_DEADLINE_SECONDS,
    timeoutMs: x.VAULT_TIMEOUT_SECONDS,
    skipVerify: x.VAULT_SKIP_VERIFY,
  });
}
