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

/** What a rotation swaps: the generation serving new requests, its config, and the old ones still finishing. */
interface Rotation {
  current: Generation;
  config: RuntimeConfig;
  readonly retiring: Set<Generation>;
}

/** Closes a replaced generation once its last request has finished (and only once). */
function idleCloser(retiring: Set<Generation>, log: Logger): (gen: Generation) => void {
  return (gen) => {
    if (!gen.retired || gen.inFlight > 0 || !retiring.delete(gen)) return;
    gen.role
      .close?.()
      .catch((err: unknown) =>
        log.warn({ error: err instanceof Error ? err.message : String(err) }, 'closing the replaced role failed'),
      );
  };
}

/** The config the changed secrets make, or undefined when they change nothing it uses or make it invalid. */
function changedConfig(
  options: RotatingRoleOptions,
  rotation: Rotation,
  changed: ReadonlySet<string>,
): { next: RuntimeConfig; variables: string[] } | undefined {
  const { references } = resolveSecretReferences(options.env, options.store);
  const variables = [...references]
    .filter(([, names]) => names.some((n) => changed.has(n)))
    .map(([variable]) => variable);
  if (variables.length === 0) return undefined;
  let next: RuntimeConfig;
  try {
    next = options.parse(options.env, options.store);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    options.log.error(
      { variables, problems: err.problems },
      'rotated secrets make the configuration invalid: keeping the current configuration',
    );
    return undefined;
  }
  return isDeepStrictEqual(next, rotation.config) ? undefined : { next, variables };
}

/** Builds the role from the new config and swaps it in; the old one closes once its requests are done. */
async function rebuild(
  options: RotatingRoleOptions,
  rotation: Rotation,
  changed: ReadonlySet<string>,
  closeIfIdle: (gen: Generation) => void,
): Promise<void> {
  const change = changedConfig(options, rotation, changed);
  if (change === undefined) return;
  const role = await options.build(change.next);
  const old = rotation.current;
  rotation.current = generation(role);
  rotation.config = change.next;
  old.retired = true;
  rotation.retiring.add(old);
  closeIfIdle(old);
  options.log.info({ variables: change.variables }, 'configuration rebuilt from rotated secrets');
}

export function rotateRoleOnSecretChange(options: RotatingRoleOptions): RoleInstance {
  const { store, log } = options;
  const rotation: Rotation = { current: generation(options.role), config: options.config, retiring: new Set() };
  const closeIfIdle = idleCloser(rotation.retiring, log);
  let rebuilding: Promise<void> = Promise.resolve();

  const unsubscribe = store.onChange((changed) => {
    rebuilding = rebuilding
      .then(() => rebuild(options, rotation, changed, closeIfIdle))
      .catch((err: unknown) =>
        log.error(
          { error: err instanceof Error ? err.message : String(err) },
          'rebuilding the role from rotated secrets failed: keeping the current one',
        ),
      );
  });

  return {
    routes: forwardingRoutes(options.role, () => rotation.current, closeIfIdle),
    notReady: () => rotation.current.role.notReady?.(),
    async close() {
      unsubscribe();
      await rebuilding;
      await Promise.all([rotation.current, ...rotation.retiring].flatMap((gen) => gen.role.close?.() ?? []));
      rotation.retiring.clear();
    },
  };
}
