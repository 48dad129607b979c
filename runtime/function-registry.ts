// The functions a build can run. functions/index.ts is generated from the folders under functions/
// (build/gen-functions.mjs) and only main.ts imports it: runtime/ never imports functions/, which import
// runtime/function-api.ts, so the folders depend one way (test/layers.test.ts keeps it so).
import { ConfigError } from './config/fields.js';
import type { FunctionModule } from './function-api.js';

export type FunctionLoaders = Readonly<Record<string, () => Promise<FunctionModule>>>;

export interface FunctionRegistry {
  /** The names FUNCTION may take, for the config's checks and messages. */
  readonly names: readonly string[];
  readonly load: (name: string) => Promise<FunctionModule>;
}

export function functionRegistry(names: readonly string[], loaders: FunctionLoaders): FunctionRegistry {
  return {
    names,
    load: async (name) => {
      const load = loaders[name];
      if (!load) throw new ConfigError([`FUNCTION: unknown function "${name}"`]);
      return load();
    },
  };
}

/** A runtime given no functions (the handler and dlq roles need none). */
export const noFunctions: FunctionRegistry = functionRegistry([], {});
