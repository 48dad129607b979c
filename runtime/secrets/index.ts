// Opens the secret store for the configured mode (off, agent files, direct Vault) and keeps it fresh.
// main.ts calls this before parseConfig, so config values can reference secrets (see references.ts).
import { existsSync } from 'node:fs';
// fs.promises read at the call, not node:fs/promises imported: that loads Node's promise-based fs with its file
// streams, readline, directory and watcher modules (8 built-ins), which a start without Vault never uses.
import { promises as fsPromises } from 'node:fs';
import { defaultAgentSecretsDir, type VaultConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { loadAgentSecrets, watchAgentSecrets } from './agent.js';
import type { Clock } from '../clock.js';
import { createDirectSecrets, VaultStartupError } from './direct.js';
import {
  createSecretStore,
  type SecretsFailureReason,
  type SecretStore,
  type SecretStoreWriter,
  type VaultOperation,
} from './store.js';
import type { NodeVaultOptions, VaultApi } from './vault-api.js';

export type { SecretStore, SecretsObserver, SecretsStatus, SecretsFailureReason } from './store.js';
export { VaultStartupError } from './direct.js';
export { SecretFileError } from './env-file.js';

export interface SecretSource {
  readonly store: SecretStore;
  close(): void;
}

export interface SecretsIo {
  readonly log: Logger;
  readonly readFile?: (path: string) => Promise<string>;
  readonly createVaultApi?: (options: NodeVaultOptions) => Promise<VaultApi>;
  /** Start-up backoff, renewals and refreshes of direct mode run on it (tests pass a manual one). */
  readonly clock?: Clock;
  readonly exists?: (path: string) => boolean;
}

export async function openSecrets(config: VaultConfig, io: SecretsIo): Promise<SecretSource> {
  const { log } = io;
  const store = createSecretStore(config.mode, (err) =>
    log.error({ error: err instanceof Error ? err.message : String(err) }, 'a secrets change listener failed'),
  );

  if (config.mode === 'off') {
    if ((io.exists ?? existsSync)(defaultAgentSecretsDir)) {
      log.warn(
        { dir: defaultAgentSecretsDir },
        'Vault agent files found but VAULT_SECRETS_DIR is unset: they are not loaded',
      );
    }
    return { store, close() {} };
  }

  if (config.mode === 'agent') {
    const options = { dir: config.secretsDir, refreshMs: config.refreshMs, store, log };
    await loadAgentSecrets(options);
    const watcher = watchAgentSecrets(options);
    return { store, close: () => watcher.close() };
  }

  return openDirectSecrets(config, io, store);
}

type DirectConfig = Extract<VaultConfig, { mode: 'direct' }>;

/**
 * Direct mode: the runtime logs in to Vault itself. Resolves once the first read succeeded; direct.start()
 * retries until VAULT_STARTUP_DEADLINE_SECONDS, then throws, so the role is never built without its secrets.
 */
async function openDirectSecrets(config: DirectConfig, io: SecretsIo, store: SecretStoreWriter): Promise<SecretSource> {
  const { log } = io;
  const read = io.readFile ?? ((path: string) => fsPromises.readFile(path, 'utf8'));
  const ca = config.caCertFile ? await readCaCert(config.caCertFile, read) : undefined;
  if (config.skipVerify) log.warn("VAULT_SKIP_VERIFY=true: Vault's TLS certificate is not verified");
  // Imported here, on first use: the other modes never load node-vault (see vault-api.ts).
  const createApi =
    io.createVaultApi ?? (async (o: NodeVaultOptions) => (await import('./vault-api.js')).createNodeVaultApi(o));
  const api = timedVaultApi(
    await createApi({
      address: config.address,
      namespace: config.namespace,
      ca,
      skipVerify: config.skipVerify,
      timeoutMs: config.timeoutMs,
    }),
    store,
  );
  const direct = createDirectSecrets({
    config,
    api,
    store,
    log,
    readJwt: () => read(config.tokenPath),
    clock: io.clock,
  });
  try {
    await direct.start();
  } catch (err) {
    direct.close();
    throw err;
  }
  return { store, close: () => direct.close() };
}

async function readCaCert(path: string, read: (path: string) => Promise<string>): Promise<string> {
  try {
    return await read(path);
  } catch (err) {
    throw new VaultStartupError(
      `VAULT_CACERT ${path}: cannot read the CA certificate (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** Reports every Vault call's duration and outcome to the store's observers (the metrics). */
function timedVaultApi(api: VaultApi, store: SecretStoreWriter): VaultApi {
  const timed = async <T>(operation: VaultOperation, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const result = await run();
      store.vaultCalled(operation, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      // VaultCallError carries a reason; read it by shape so this module does not load vault-api at start-up.
      const reason = (err as { reason?: SecretsFailureReason }).reason ?? 'bad_response';
      store.vaultCalled(operation, reason, (performance.now() - started) / 1000);
      throw err;
    }
  };
  return {
    login: (mount, role, jwt) => timed('login', () => api.login(mount, role, jwt)),
    renewSelf: () => timed('renew', () => api.renewSelf()),
    lookupSelf: () => timed('lookup', () => api.lookupSelf()),
    read: (path) => timed('read', () => api.read(path)),
  };
}
