// Direct mode: the runtime logs in to Vault itself (Kubernetes auth with the service account's JWT), reads
// the configured KV paths, renews its token before the lease ends (logging in again when renewal fails or
// the token is not renewable), and re-reads the secrets every VAULT_REFRESH_SECONDS. At start-up it retries
// with backoff until VAULT_STARTUP_DEADLINE_SECONDS; later failures keep the last good secrets.
import type { VaultConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { SecretStoreWriter } from './store.js';
import { VaultCallError, type VaultApi, type VaultLease } from './vault-api.js';

type DirectConfig = Extract<VaultConfig, { mode: 'direct' }>;

export interface DirectTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

const realTimers: DirectTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
};

export interface DirectSecretsOptions {
  readonly config: DirectConfig;
  readonly api: VaultApi;
  readonly store: SecretStoreWriter;
  readonly log: Logger;
  /** Reads the service account JWT (again at every login: projected tokens rotate). */
  readonly readJwt: () => Promise<string>;
  readonly timers?: DirectTimers;
}

export class VaultStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultStartupError';
  }
}

export interface DirectSecrets {
  /** Logs in and loads every path, retrying until the deadline; throws VaultStartupError after it. */
  start(): Promise<void>;
  /** One re-read now (what the refresh timer runs). Never throws. */
  refresh(): Promise<void>;
  close(): void;
}

/** A Vault value as the string the runtime hands out: strings as they are, anything else as JSON. */
function asString(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** KV v2 answers data.data (with data.metadata.version); KV v1 answers data. */
function kvData(path: string, kvVersion: 1 | 2, body: unknown): Record<string, unknown> {
  const data = (body as { data?: unknown } | undefined)?.data;
  const inner = kvVersion === 2 ? (data as { data?: unknown } | undefined)?.data : data;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
    const hint = kvVersion === 2 ? ' (a KV v1 mount? set VAULT_KV_VERSION=1)' : '';
    throw new VaultCallError(`read ${path}: the answer has no ${kvVersion === 2 ? 'data.data' : 'data'} object${hint}`, 'bad_response');
  }
  return inner as Record<string, unknown>;
}

export function createDirectSecrets(options: DirectSecretsOptions): DirectSecrets {
  const { config, api, store, log } = options;
  const timers = options.timers ?? realTimers;
  const now = () => new Date(timers.now());
  let lease: VaultLease | undefined;
  let renewTimer: unknown;
  let refreshTimer: unknown;
  let closed = false;
  // One Vault conversation at a time: renewal and refresh share the client's token.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };

  const login = async () => {
    let jwt: string;
    try {
      jwt = (await options.readJwt()).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new VaultCallError(`VAULT_TOKEN_PATH ${config.tokenPath}: cannot read the service account token (${code})`, 'login_failed');
    }
    try {
      lease = await api.login(config.authMount, config.role, jwt);
    } catch (err) {
      if (err instanceof VaultCallError && (err.status === 400 || err.status === 403)) {
        throw new VaultCallError(`${err.message}; check VAULT_ROLE ${config.role} and VAULT_AUTH_PATH auth/${config.authMount}`, 'login_failed', err.status);
      }
      throw err;
    }
    log.info({ leaseSeconds: lease.leaseSeconds, renewable: lease.renewable }, 'logged in to Vault');
    scheduleRenewal();
  };

  const readAll = async (): Promise<Map<string, string>> => {
    const values = new Map<string, string>();
    const duplicates: string[] = [];
    for (const path of config.secretPaths) {
      for (const [key, raw] of Object.entries(kvData(path, config.kvVersion, await api.read(path)))) {
        const value = asString(raw);
        if (value === undefined) continue;
        if (values.has(key)) duplicates.push(key);
        values.set(key, value);
      }
    }
    if (duplicates.length > 0) log.warn({ names: duplicates.sort() }, 'secrets defined under more than one path: the path listed last wins');
    return values;
  };

  /** Reads every path; a 403 means the token expired or was revoked: log in again and read once more. */
  const load = async () => {
    if (!lease) await login();
    let values: Map<string, string>;
    try {
      values = await readAll();
    } catch (err) {
      if (!(err instanceof VaultCallError && err.status === 403)) throw err;
      log.info('Vault denied a read: logging in again');
      await login();
      values = await readAll();
    }
    const changed = store.replace(values, now());
    if (changed.size > 0) log.info({ changed: [...changed].sort(), count: values.size }, 'secrets changed: new values in use');
  };

  const failed = (what: string, err: unknown) => {
    const e = err instanceof VaultCallError ? err : new VaultCallError(`${what}: unexpected error`, 'bad_response');
    store.failed(e.reason, now());
    log.warn({ reason: e.reason, error: e.message }, `${what} failed: keeping the last good secrets`);
  };

  function scheduleRenewal(delayMs?: number) {
    timers.clearTimeout(renewTimer);
    if (closed || !lease) return;
    // Renew at two thirds of the lease: room for a retry before it ends.
    const ms = delayMs ?? Math.max(50, (lease.leaseSeconds * 1000 * 2) / 3);
    renewTimer = timers.setTimeout(() => void serial(renew), ms);
  }

  async function renew() {
    if (closed) return;
    try {
      if (lease?.renewable) {
        lease = await api.renewSelf();
        log.debug({ leaseSeconds: lease.leaseSeconds }, 'Vault token renewed');
        scheduleRenewal();
        return;
      }
    } catch (err) {
      log.info({ error: err instanceof Error ? err.message : 'unknown error' }, 'Vault token renewal failed: logging in again');
    }
    try {
      await login();
    } catch (err) {
      failed('Vault login', err);
      scheduleRenewal(Math.min(config.refreshMs, 5000));
    }
  }

  function scheduleRefresh() {
    if (closed) return;
    refreshTimer = timers.setTimeout(() => {
      void refresh().then(scheduleRefresh);
    }, config.refreshMs);
  }

  async function refresh() {
    if (closed) return;
    await serial(load).catch((err: unknown) => failed('Vault refresh', err));
  }

  const sleep = (ms: number) => new Promise<void>((resolve) => timers.setTimeout(resolve, ms));

  return {
    async start() {
      const started = timers.now();
      let delay = 200;
      for (let attempt = 1; ; attempt++) {
        try {
          await serial(load);
          log.info({ paths: config.secretPaths, count: store.names().length, attempts: attempt }, 'secrets loaded from Vault');
          scheduleRefresh();
          return;
        } catch (err) {
          const e = err instanceof VaultCallError ? err : new VaultCallError('loading secrets: unexpected error', 'bad_response');
          store.failed(e.reason, now());
          const left = config.startupDeadlineMs - (timers.now() - started);
          if (left <= 0 || closed) {
            throw new VaultStartupError(
              `could not load secrets from Vault at ${config.address} within VAULT_STARTUP_DEADLINE_SECONDS (${config.startupDeadlineMs / 1000}s, ${attempt} attempts): ${e.message}`,
            );
          }
          log.warn({ reason: e.reason, error: e.message, attempt, retryInMs: Math.min(delay, left) }, 'Vault not available yet: retrying');
          await sleep(Math.min(delay, left));
          delay = Math.min(delay * 2, 5000);
        }
      }
    },
    refresh,
    close() {
      closed = true;
      timers.clearTimeout(renewTimer);
      timers.clearTimeout(refreshTimer);
    },
  };
}
