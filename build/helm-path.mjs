// Where to find helm. Tests pin a major version (.tools/helm3, .tools/helm4, written by build/setup-helm.mjs);
// users get a `helm` already on PATH first, else the pinned Helm 4 from .tools.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TOOLS_DIR = join(ROOT, '.tools');
export const HELM_MAJORS = /** @type {const} */ ([3, 4]);

/**
 * Path of the pinned helm binary for one major version (it may not exist yet).
 * @param {3 | 4} major
 * @returns {string}
 */
export function pinnedHelmPath(major) {
  const exe = process.platform === 'win32' ? 'helm.exe' : 'helm';
  return join(TOOLS_DIR, `helm${major}`, exe);
}

/**
 * The pinned helm for a major version; throws a message that says how to get it.
 * @param {3 | 4} major
 * @returns {string}
 */
export function requirePinnedHelm(major) {
  const p = pinnedHelmPath(major);
  if (!existsSync(p)) {
    throw new Error(`helm ${major} not found at ${p}: run \`node build/setup-helm.mjs\` first`);
  }
  return p;
}

/**
 * For users: `helm` on PATH if it runs, else the pinned Helm 4; undefined when neither exists.
 * @returns {string | undefined}
 */
export function findHelm() {
  const onPath = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'helm';
  const pinned = pinnedHelmPath(4);
  return existsSync(pinned) ? pinned : undefined;
}
