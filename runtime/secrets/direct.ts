// Direct mode: the runtime logs in to Vault itself (Kubernetes auth with the service account's JWT), reads
// the configured KV paths, renews its token before the lease ends (logging in again when renewal fails or
// the token is not renewable), and re-reads the secrets every VAULT_REFRESH_SECONDS. At start-up it retries
// with backoff until VAULT_STARTUP_DEADLINE_SECONDS; later failures keep the last good secrets.
import { realClock, type Clock } from '../clock.js';
import type { VaultConfig } from '../config.js';
import { withRetries, type AttemptOutcome } from '../events/retry.js';
import type { Logger } from '../logger.js';
import type { SecretStoreWriter } from './store.js';
import { VaultCallError, type VaultApi, type VaultLease } from './vault-api.js';

type DirectConfig = Extract<VaultConfig, { mode: 'direct' }>;

/** Start-up backoff: 200 ms, doubling up to 5 s, without jitter (one process waiting for its own Vault). */
const startupPolicy = { retries: Number.MAX_SAFE_INTEGER, baseDelayMs: 200, maxDelayMs: 5000 };

export interface DirectSecretsOptions {
  readonly config: DirectConfig;
  readonly api: VaultApi;
  readonly store: SecretStoreWriter;
  readonly log: Logger;
  /** Reads the service account JWT (again at every login: projected tokens rotate). */
  readonly readJwt: () => Promise<string>;
  readonly clock?: Clock;
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
    throw new VaultCallError(
      `read ${path}: the answer has no ${kvVersion === 2 ? 'data.data' : 'data'} object${hint}`,
      'bad_response',
    );
  }
  return inner as Record<string, unknown>;
}

/** One Vault conversation at a time: renewal and refresh share the client's token. */
function serialQueue(): <T>(job: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };
}

/** Kubernetes auth with the service account's JWT, read again each time (projected tokens rotate). */
async function logIn(options: DirectSecretsOptions): Promise<VaultLease> {
  const { config, api } = options;
  let jwt: string;
  try {
    jwt = (await options.readJwt()).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new VaultCallError(
      `VAULT_TOKEN_PATH ${config.tokenPath}: cannot read the service account token (${code})`,
      'login_failed',
    );
  }
  try {
    return await api.login(config.authMount, config.role, jwt);
  } catch (err) {
    if (err instanceof VaultCallError && (err.status === 400 || err.status === 403)) {
      throw new VaultCallError(
        `${err.message}; check VAULT_ROLE ${config.role} and VAULT_AUTH_PATH auth/${config.authMount}`,
        'login_failed',
        err.status,
      );
    }
    throw err;
  }
}

/** Every configured path, merged in order (a name under two paths: the path listed last wins, with a warning). */
async function readAllPaths(options: DirectSecretsOptions): Promise<Map<string, string>> {
  const { config, api, log } = options;
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
  if (duplicates.length > 0)
    log.warn({ names: duplicates.sort() }, 'secrets defined under more than one path: the path listed last wins');
  return values;
}

const asVaultError = (what: string, err: unknown): VaultCallError =>
  err instanceof VaultCallError ? err : new VaultCallError(`${what}: unexpected error`, 'bad_response');

/** The token's lease, its renewal and the periodic re-read; each step is one method. */
class DirectSession implements DirectSecrets {
  private lease: VaultLease | undefined;
  private renewTimer: unknown;
  private refreshTimer: unknown;
  private closed = false;
  private readonly serial = serialQueue();
  private readonly clock: Clock;

  constructor(private readonly options: DirectSecretsOptions) {
    this.clock = options.clock ?? realClock;
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  private async login(): Promise<void> {
    this.lease = await logIn(this.options);
    this.options.log.info(
      { leaseSeconds: this.lease.leaseSeconds, renewable: this.lease.renewable },
      'logged in to Vault',
    );
    this.scheduleRenewal();
  }

  /** Reads every path; a 403 means the token expired or was revoked: log in again and read once more. */
  private readonly load = async (): Promise<void> => {
    const { store, log } = this.options;
    if (!this.lease) await this.login();
    let values: Map<string, string>;
    try {
      values = await readAllPaths(this.options);
    } catch (err) {
      if (!(err instanceof VaultCallError && err.status === 403)) throw err;
      log.info('Vault denied a read: logging in again');
      await this.login();
      values = await readAllPaths(this.options);
    }
    const changed = store.replace(values, this.now());
    if (changed.size > 0)
      log.info({ changed: [...changed].sort(), count: values.size }, 'secrets changed: new values in use');
  };

  private failed(what: string, err: unknown): void {
    const e = asVaultError(what, err);
    this.options.store.failed(e.reason, this.now());
    this.options.log.warn({ reason: e.reason, error: e.message }, `${what} failed: keeping the last good secrets`);
  }

  private scheduleRenewal(delayMs?: number): void {
    this.clock.clearTimeout(this.renewTimer);
    if (this.closed || !this.lease) return;
    // Renew at two thirds of the lease: room for a retry before it ends.
    const ms = delayMs ?? Math.max(50, (this.lease.leaseSeconds * 1000 * 2) / 3);
    this.renewTimer = this.clock.setTimeout(() => void this.serial(this.renew), ms);
  }

  private readonly renew = async (): Promise<void> => {
    if (this.closed) return;
    try {
      if (this.lease?.renewable) {
        this.lease = await this.options.api.renewSelf();
        this.options.log.debug({ leaseSeconds: this.lease.leaseSeconds }, 'Vault token renewed');
        this.scheduleRenewal();
        return;
      }
    } catch (err) {
      this.options.log.info(
        { error: err instanceof Error ? err.message : 'unknown error' },
        'Vault token renewal failed: logging in again',
      );
    }
    try {
      await this.login();
    } catch (err) {
      this.failed('Vault login', err);
      this.scheduleRenewal(Math.min(this.options.config.refreshMs, 5000));
    }
  };

  private scheduleRefresh(): void {
    if (this.closed) return;
    this.refreshTimer = this.clock.setTimeout(() => {
      void this.refresh().then(() => this.scheduleRefresh());
    }, this.options.config.refreshMs);
  }

  readonly refresh = async (): Promise<void> => {
    if (this.closed) return;
    await this.serial(this.load).catch((err: unknown) => this.failed('Vault refresh', err));
  };

  /** Retries (events/retry.ts) until the start-up deadline; each wait ends by the deadline at the latest. */
  readonly start = async (): Promise<void> => {
    const { config, store, log } = this.options;
    const started = this.clock.now();
    const left = () => config.startupDeadlineMs - (this.clock.now() - started);
    let attempts = 0;
    const attempt = async (): Promise<AttemptOutcome<VaultCallError | undefined>> => {
      attempts++;
      try {
        await this.serial(this.load);
        return { done: true, value: undefined };
      } catch (err) {
        const e = asVaultError('loading secrets', err);
        store.failed(e.reason, this.now());
        return { done: false, retryable: true, value: e };
      }
    };
    // random() = 1: the full delay each time (no jitter: one process waiting for its own Vault).
    const clock = { random: () => 1, sleep: (ms: number) => this.clock.sleep(Math.max(0, Math.min(ms, left()))) };
    const onRetry = (attempt: number, e: VaultCallError | undefined, delayMs: number) =>
      log.warn(
        { reason: e?.reason, error: e?.message, attempt, retryInMs: Math.min(delayMs, left()) },
        'Vault not available yet: retrying',
      );
    const outcome = await withRetries(startupPolicy, clock, attempt, onRetry, () => this.closed || left() <= 0);
    if (!outcome.done) {
      throw new VaultStartupError(
        `could not load secrets from Vault at ${config.address} within VAULT_STARTUP_DEADLINE_SECONDS (${config.startupDeadlineMs / 1000}s, ${attempts} attempts): ${outcome.value?.message}`,
      );
    }
    log.info({ paths: config.secretPaths, count: store.names().length, attempts }, 'secrets loaded from Vault');
    this.scheduleRefresh();
  };

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.renewTimer);
    this.clock.clearTimeout(this.refreshTimer);
  }
}

export function createDirectSecrets(options: DirectSecretsOptions): DirectSecrets {
  return new DirectSession(options);
}
