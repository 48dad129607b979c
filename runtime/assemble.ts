// Builds a runnable role from a parsed config and its I/O: the one place where dependencies meet.
// main.ts calls it with the real clock, HTTP client and stdout; tests call it with their own.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Koa from 'koa';
import { buildApp } from './app.js';
import { ConfigError, type RuntimeConfig } from './config.js';
import { createHttpPoster, type HttpPoster } from './events/http-client.js';
import { realClock, type RetryClock } from './events/retry.js';
import type { FunctionModule, Secrets } from './function-api.js';
import { functionLoaders } from '../functions/index.js';
import { containerMemoryLimit, createMemoryBudget, defaultMemoryBudget, type MemoryBudget } from './http/memory-budget.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createRole } from './roles/index.js';
import type { RoleDeps, RoleInstance } from './roles/role.js';
import type { ProcessMetrics } from './metrics/index.js';
import { openTracing, type Tracing } from './tracing/index.js';

export interface AssembleIo {
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly poster?: HttpPoster;
  readonly clock?: RetryClock;
  readonly newId?: () => string;
  readonly now?: () => Date;
  readonly secrets?: Secrets;
  readonly loadFunction?: (name: string) => Promise<FunctionModule>;
  /** Wraps the role so it can be rebuilt from a new config when secrets rotate (runtime/secrets/rotating-role.ts). */
  readonly rotateRole?: (role: RoleInstance, build: (config: RuntimeConfig) => Promise<RoleInstance>) => RoleInstance;
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

async function loadRegisteredFunction(name: string): Promise<FunctionModule> {
  const load = functionLoaders[name];
  if (!load) throw new ConfigError([`FUNCTION: unknown function "${name}"`]);
  return load();
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
  const tracing = await openTracing(io.env ?? {}, { log: io.log, registry: metrics?.registry, service: config.service, role: config.role, revision: config.revision, version: io.version });
  const roleDeps: RoleDeps = {
    log: io.log,
    env: io.env ?? {},
    poster,
    clock: io.clock ?? realClock,
    newId: io.newId ?? randomUUID,
    now: io.now ?? (() => new Date()),
    secrets: io.secrets ?? { get: () => undefined },
    loadFunction: io.loadFunction ?? loadRegisteredFunction,
    stopping: () => lifecycle.stopping,
    observer: metrics?.sendObserver,
    roleObserver: metrics?.roleObserver,
    tracing,
  };
  const built = await createRole(config, roleDeps);
  const role = io.rotateRole ? io.rotateRole(built, (next) => createRole(next, roleDeps)) : built;
  const memoryBudget = createMemoryBudget(config.memoryBudgetBytes ?? defaultMemoryBudget(containerMemoryLimit(io.readSystemFile ?? readSystemFile)));
  const app = buildApp({
    log: io.log,
    lifecycle,
    role,
    middleware: metrics ? [metrics.middleware] : [],
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
