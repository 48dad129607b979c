// What the local scripts (npm run dlq, npm run send) share on their command line: node:util's parseArgs with
// its error turned into the script's own (what was wrong, then the usage; no stack trace), the state file
// `npm start` writes (how a script finds the running pipeline), and whether a module is the script being run.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where `npm start` writes what runs where, and the dlq's admin URL and token. */
export const localStateFile = resolve(root, '.local-run', 'state.json');

/** parseArgs; an unknown or malformed option is `fail(message)`, thrown. */
export function parseCommandLine<T extends ParseArgsConfig>(
  config: T,
  fail: (message: string) => Error,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw fail((err as Error).message);
  }
}

/** True in the module node was started with (`node --import tsx local/x.ts`), false when it is imported. */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}
