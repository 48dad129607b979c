// What a cluster provides that this machine does not, replaced by a local stand-in before anything starts,
// each with a note the runner logs, so a values file written for a cluster still runs here:
// - a dlq whose store is PostgreSQL runs with the file store (no database server is started);
// - Vault direct mode (the runtime logs in to Vault) reads the local secrets file's `files:` instead, as agent
//   mode does: the services get VAULT_SECRETS_DIR and none of the VAULT_* login settings;
// - a dlq without an admin token gets a generated one, so its /dead-letters admin API is on.
// Pure: manifests in, manifests out.
import type { EnvSource, Manifests, ServiceManifest } from './manifests.js';

type Env = ServiceManifest['env'];

export interface Adapted {
  readonly manifests: Manifests;
  readonly notes: readonly string[];
  /** Service short name → the admin token generated for it. */
  readonly generatedTokens: ReadonlyMap<string, string>;
  /** Services that use Vault in direct mode in the cluster and read the local files here. */
  readonly vaultDirect: readonly string[];
}

const value = (env: Env, name: string): string | undefined => {
  const source = env.find((e) => e.name === name)?.source;
  return source && 'value' in source ? source.value : undefined;
};
const set = (env: Env, name: string, source: EnvSource): Env => [
  ...env.filter((e) => e.name !== name),
  { name, source },
];

// Settings of the PostgreSQL store (connection, pool, schema, retention), whatever the chart calls them: none
// applies to the file store, and the runtime refuses them there.
const databaseVar = /^(DLQ_)?(DATABASE_|POSTGRES|PG|RETENTION_)[A-Z0-9_]*$/;
// The direct-mode login settings; VAULT_SECRETS_DIR and VAULT_REFRESH_SECONDS stay (agent mode uses them).
const vaultLoginVar = /^VAULT_(?!SECRETS_DIR$|REFRESH_SECONDS$)[A-Z0-9_]+$/;

export function adaptForLocal(
  manifests: Manifests,
  options: { newToken: () => string; localDlqDir: (short: string) => string },
): Adapted {
  const notes: string[] = [];
  const generatedTokens = new Map<string, string>();
  const vaultDirect: string[] = [];
  const services = manifests.services.map((s): ServiceManifest => {
    let env = s.env;
    let volumeMounts = s.volumeMounts;
    const role = value(env, 'ROLE');
    const store = value(env, 'DLQ_STORE');
    if (role === 'dlq' && store !== undefined && /^postgres(ql)?$/i.test(store)) {
      const dropped = env.filter((e) => databaseVar.test(e.name)).map((e) => e.name);
      env = set(
        env.filter((e) => !databaseVar.test(e.name)),
        'DLQ_STORE',
        { value: 'file' },
      );
      // A mount of its own, so the plan maps the file to a local folder like any other volume.
      env = set(env, 'DLQ_FILE', { value: '/local-dlq/dead-letters.jsonl' });
      volumeMounts = [...volumeMounts, { name: 'dlq-data', mountPath: '/local-dlq' }];
      notes.push(
        `${s.short}: DLQ_STORE ${store} runs as the file store locally (${options.localDlqDir(s.short)}/dead-letters.jsonl); no PostgreSQL is started${dropped.length > 0 ? `, so ${dropped.join(', ')} ${dropped.length === 1 ? 'is' : 'are'} left out` : ''}`,
      );
    }
    if (env.some((e) => e.name === 'VAULT_ADDR')) {
      env = env.filter((e) => !vaultLoginVar.test(e.name));
      vaultDirect.push(s.short);
    }
    if (role === 'dlq' && !env.some((e) => e.name === 'DLQ_ADMIN_TOKEN')) {
      const token = options.newToken();
      env = set(env, 'DLQ_ADMIN_TOKEN', { value: token });
      generatedTokens.set(s.short, token);
    }
    return { ...s, env, volumeMounts };
  });
  if (vaultDirect.length > 0)
    notes.push(
      `${vaultDirect.join(', ')}: Vault direct mode reads the local secrets file's files: instead of logging in to Vault`,
    );
  if (generatedTokens.size > 0)
    notes.push(
      `${[...generatedTokens.keys()].join(', ')}: DLQ_ADMIN_TOKEN generated for this run (the table shows the admin URL)`,
    );
  return { manifests: { ...manifests, services }, notes, generatedTokens, vaultDirect };
}
