// Builds a runnable role from a parsed config and its I/O: the one place where dependencies meet.
// main.ts calls it with the real clock, HTTP client and stdout; tests call it with their own.
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { buildApp } from './app.js';
import { ConfigError, type RuntimeConfig } from './config.js';
import { createHttpPoster, type HttpPoster } from './events/http-client.js';
import { realClock, type RetryClock } from './events/retry.js';
import type { FunctionModule, Secrets } from './function-api.js';
import { functionLoaders } from '../functions/index.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createRole } from './roles/index.js';
import type { RoleInstance } from './roles/role.js';

export interface AssembleIo {
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly poster?: HttpPoster;
  readonly clock?: RetryClock;
  readonly newId?: () => string;
  readonly now?: () => Date;
  readonly secrets?: Secrets;
  readonly loadFunction?: (name: string) => Promise<FunctionModule>;
}

export interface Assembled {
  readonly app: Koa;
  readonly lifecycle: Lifecycle;
  readonly role: RoleInstance;
  /** Closes what the role opened (outbound connections, files). */
  close(): Promise<void>;
}

async function loadRegisteredFunction(name: string): Promise<FunctionModule> {
  const load = functionLoaders[name];
  if (!load) throw new ConfigError([`FUNCTION: unknown function "${name}"`]);
  return load();
}

export async function assemble(config: RuntimeConfig, io: AssembleIo): Promise<Assembled> {
  const lifecycle = createLifecycle();
  const poster = io.poster ?? createHttpPoster();
  const role = await createRole(config, {
    log: io.log,
    env: io.env ?? {},
    poster,
    clock: io.clock ?? realClock,
    newId: io.newId ?? randomUUID,
    now: io.now ?? (() => new Date()),
    secrets: io.secrets ?? { get: () => undefined },
    loadFunction: io.loadFunction ?? loadRegisteredFunction,
    stopping: () => lifecycle.stopping,
  });
  const app = buildApp({ log: io.log, lifecycle, role });
  return {
    app,
    lifecycle,
    role,
    async close() {
      await role.close?.();
      await poster.close();
    },
  };
}
