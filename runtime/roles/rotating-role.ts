// When a secret that the config refers to changes (say BROKER_URL=secret:BROKER_URL is rotated), the config
// is parsed again and the role rebuilt from it and swapped in: requests already running finish on the old
// role, which is closed once they have; new requests use the new one. If the new values make the config
// invalid, the current role stays and the problems are logged (they quote references, never values).
// Only the role is rebuilt: PORT, LOG_LEVEL, metrics and VAULT_* settings keep their start-up values.
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, type RuntimeConfig } from '../config.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { resolveSecretReferences } from '../secrets/references.js';
import type { SecretStore } from '../secrets/store.js';
import type { RoleInstance, Route } from './role.js';

export interface RotatingRoleOptions {
  readonly role: RoleInstance;
  readonly config: RuntimeConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly store: SecretStore;
  readonly log: Logger;
  readonly parse: (env: Readonly<Record<string, string | undefined>>, secrets: SecretStore) => RuntimeConfig;
  readonly build: (config: RuntimeConfig) => Promise<RoleInstance>;
}

interface Generation {
  readonly role: RoleInstance;
  inFlight: number;
  retired: boolean;
}

function generation(role: RoleInstance): Generation {
  return { role, inFlight: 0, retired: false };
}

/**
 * The routes of the first role, each forwarded to the current generation's route at the same place: a rebuilt
 * role of the same ROLE lists the same routes in the same order, so the app's router is the one lookup.
 */
function forwardingRoutes(
  first: RoleInstance,
  current: () => Generation,
  closeIfIdle: (gen: Generation) => void,
): Route[] {
  return first.routes.map((route, index) => ({
    method: route.method,
    path: route.path,
    async handle(ctx, params) {
      const gen = current();
      const target = gen.role.routes[index];
      if (target?.method !== route.method || target.path !== route.path)
        throw new HttpError(404, 'not_found', `no route for ${ctx.path}`);
      gen.inFlight++;
      try {
        await target.handle(ctx, params);
      } finally {
        gen.inFlight--;
        closeIfIdle(gen);
      }
    },
  }));
}

export function rotateRoleOnSecretChange(options: RotatingRoleOptions): RoleInstance {
  const { store, log } = options;
  let current = generation(options.role);
  let config = options.config;
  const retiring = new Set<Generation>();
  let rebuilding: Promise<void> = Promise.resolve();

  const closeIfIdle = (gen: Generation) => {
    if (!gen.retired || gen.inFlight > 0 || !retiring.delete(gen)) return;
    gen.role
      .close?.()
      .catch((err: unknown) =>
        log.warn({ error: err instanceof Error ? err.message : String(err) }, 'closing the replaced role failed'),
      );
  };

  const rebuild = async (changed: ReadonlySet<string>) => {
    const { references } = resolveSecretReferences(options.env, store);
    const variables = [...references]
      .filter(([, names]) => names.some((n) => changed.has(n)))
      .map(([variable]) => variable);
    if (variables.length === 0) return;
    let next: RuntimeConfig;
    try {
      next = options.parse(options.env, store);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error(
        { variables, problems: err.problems },
        'rotated secrets make the configuration invalid: keeping the current configuration',
      );
      return;
    }
    if (isDeepStrictEqual(next, config)) return;
    const role = await options.build(next);
    const old = current;
    current = generation(role);
    config = next;
    old.retired = true;
    retiring.add(old);
    closeIfIdle(old);
    log.info({ variables }, 'configuration rebuilt from rotated secrets');
  };

  const unsubscribe = store.onChange((changed) => {
    rebuilding = rebuilding
      .then(() => rebuild(changed))
      .catch((err: unknown) =>
        log.error(
          { error: err instanceof Error ? err.message : String(err) },
          'rebuilding the role from rotated secrets failed: keeping the current one',
        ),
      );
  });

  return {
    routes: forwardingRoutes(options.role, () => current, closeIfIdle),
    notReady: () => current.role.notReady?.(),
    async close() {
      unsubscribe();
      await rebuilding;
      await Promise.all([current, ...retiring].flatMap((gen) => gen.role.close?.() ?? []));
      retiring.clear();
    },
  };
}
