// Builds a runnable role from a parsed config and its I/O: the one place where dependencies meet (the role,
// its rotation when secrets change, metrics and their observers, tracing, the app). main.ts only reads the
// process's edges (environment, secrets, the function registry, the port) and calls it with the real clock,
// HTTP client and stdout; tests call it with their own.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Koa from 'koa';
import { buildApp } from './app.js';
import { parseConfig, type RuntimeConfig } from './config.js';
import { createHttpPoster, type HttpPoster } from './events/http-client.js';
import { realClock } from './clock.js';
import type { RetryClock } from './events/retry.js';
import type { FunctionModule, Secrets } from './function-api.js';
import { noFunctions, type FunctionRegistry } from './function-registry.js';
import {
  containerMemoryLimit,
  createMemoryBudget,
  defaultMemoryBudget,
  type MemoryBudget,
} from './http/memory-budget.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createRole } from './roles/index.js';
import type { RoleDeps, RoleInstance } from './roles/role.js';
import { rotateRoleOnSecretChange } from './roles/rotating-role.js';
import type { SecretStore } from './secrets/store.js';
import type { ProcessMetrics } from './metrics/index.js';
import { openTracing, type Tracing } from './tracing/index.js';

export interface AssembleIo {
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly poster?: HttpPoster;
  readonly clock?: RetryClock;
  readonly newId?: () => string;
  readonly now?: () => Date;
  /**
   * What roles and functions read. A SecretStore (main.ts passes the one openSecrets loaded) also rebuilds the
   * role when a secret the config refers to rotates (roles/rotating-role.ts) and reports to the metrics.
   */
  readonly secrets?: Secrets | SecretStore;
  /** The build's functions (main.ts passes functions/index.ts); none by default. */
  readonly functions?: FunctionRegistry;
  /** Loads a function by name in place of the registry (tests inject their own). */
  readonly loadFunction?: (name: string) => Promise<FunctionModule>;
  /** The build's version, for knative_events_build_info. */
  readonly version?: string;
  /** Reads a system file (the cgroup memory limit); undefined when it cannot. Tests pass their own. */
  readonly readSystemFile?: (path: string) => string | undefined;
}

export interface Assembled {
  readonly app: Koa;
  readonly lifecycle: Lifecycle;
  readonly role: RoleInstance;
  /** This process's metrics; undefined when METRICS_ENABLED=false. */
  readonly metrics: ProcessMetrics | undefined;
  /** Spans per hop, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; a no-op otherwise. */
  readonly tracing: Tracing;
  /** Admission control for request bodies (MEMORY_BUDGET_BYTES, or derived from the container limit). */
  readonly memoryBudget: MemoryBudget;
  /** Closes what the role opened (outbound connections, files). */
  close(): Promise<void>;
}

function readSystemFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const isSecretStore = (secrets: Secrets | SecretStore | undefined): secrets is SecretStore =>
  secrets !== undefined && 'onChange' in secrets;

/**
 * With Vault on, a rotated secret that the config refers to rebuilds the role (roles/rotating-role.ts); with it
 * off nothing can change, so the role serves unwrapped.
 */
function rotatingWhenSecretsChange(
  config: RuntimeConfig,
  role: RoleInstance,
  io: AssembleIo,
  build: (config: RuntimeConfig) => Promise<RoleInstance>,
): RoleInstance {
  const store = io.secrets;
  if (!isSecretStore(store) || config.vault.mode === 'off') return role;
  const functionNames = (io.functions ?? noFunctions).names;
  return rotateRoleOnSecretChange({
    role,
    config,
    env: io.env ?? {},
    store,
    log: io.log,
    parse: (env, secrets) => parseConfig(env, secrets, functionNames),
    build,
  });
}

/** prom-client is imported only when metrics are on: a process without them starts without loading it. */
async function createProcessMetrics(config: RuntimeConfig, version: string): Promise<ProcessMetrics | undefined> {
  if (!config.metrics.enabled) return undefined;
  const { createMetrics } = await import('./metrics/index.js');
  const functionName = 'functionName' in config ? config.functionName : undefined;
  return createMetrics({ config: config.metrics, role: config.role, functionName, version });
}

export async function assemble(config: RuntimeConfig, io: AssembleIo): Promise<Assembled> {
  const lifecycle = createLifecycle();
  const poster = io.poster ?? createHttpPoster();
  const metrics = await createProcessMetrics(config, io.version ?? 'unknown');
  // The recording side of tracing is imported only when an endpoint is set (runtime/tracing/index.ts).
  const tracing = await openTracing(io.env ?? {}, {
    log: io.log,
    registry: metrics?.registry,
    service: config.service,
    role: config.role,
    revision: config.revision,
    version: io.version,
  });
  const roleDeps: RoleDeps = {
    log: io.log,
    env: io.env ?? {},
    poster,
    clock: io.clock ?? realClock,
    // Called, not passed: the bundle loads node:crypto at its first use (build/lazy-requires-plugin.mjs).
    newId: io.newId ?? (() => randomUUID()),
    now: io.now ?? (() => new Date()),
    secrets: io.secrets ?? { get: () => undefined },
    loadFunction: io.loadFunction ?? (io.functions ?? noFunctions).load,
    stopping: () => lifecycle.stopping,
    observer: metrics?.sendObserver,
    roleObserver: metrics?.roleObserver,
    tracing,
  };
  const built = await createRole(config, roleDeps);
  const role = rotatingWhenSecretsChange(config, built, io, (next) => createRole(next, roleDeps));
  if (metrics && isSecretStore(io.secrets)) io.secrets.observe(metrics.secretsObserver);
  const memoryBudget = createMemoryBudget(
    config.memoryBudgetBytes ?? defaultMemoryBudget(containerMemoryLimit(io.readSystemFile ?? readSystemFile)),
  );
  const app = buildApp({
    log: io.log,
    lifecycle,
    role,
    observers: metrics ? [metrics.requestObserver] : [],
    extraRoutes: metrics?.routes ?? [],
    memory: { budget: memoryBudget, maxBodyBytes: config.maxBodyBytes },
  });
  return {
    app,
    lifecycle,
    role,
    metrics,
    tracing,
    memoryBudget,
    async close() {
      await role.close?.();
      await poster.close();
      // The spans of the requests the drain waited for: exported within 5 s (or SHUTDOWN_TIMEOUT_SECONDS when
      // shorter, at least 1 s), what is left is counted as dropped (reason shutdown).
      await tracing.shutdown(Math.max(1000, Math.min(5000, config.shutdownTimeoutMs)));
    },
  };
}
