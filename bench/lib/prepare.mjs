// What the benchmarks need built before they measure: the runtime bundle, the single executable when asked,
// and the Koa baselines bundled like our runtime (one file, esbuild, minified) so that their start-up and
// memory compare fairly with ours.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startUpPlugins } from '../../build/bundle-config.mjs';
import { paths } from './targets.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const peers = fileURLToPath(new URL('../peers/', import.meta.url));

export function ensureBundle() {
  if (!existsSync(paths.bundle))
    execFileSync(process.execPath, [`${root}build/build.mjs`], { stdio: ['ignore', 2, 2] });
}

/**
 * dist/knative-events, rebuilt only when missing or older than the bundle it embeds; then its pages are dropped
 * from the page cache (GNU dd's nocache: posix_fadvise DONTNEED, which Node does not offer). Just written, the
 * ~96 MiB file sits in the page cache in large folios that a process mapping it gets mapped whole: its idle RSS
 * read 63-64 MiB, against 48.8 MiB for the same file once read back from disk, as a container reads its image.
 */
export function ensureBinary() {
  ensureBundle();
  if (!existsSync(paths.binary) || statSync(paths.binary).mtimeMs < statSync(paths.bundle).mtimeMs) {
    execFileSync(process.execPath, [`${root}build/build-binary.mjs`], { stdio: ['ignore', 2, 2] });
  }
  execFileSync('dd', [`if=${paths.binary}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}

/**
 * The Koa echo and the Koa forwarder, each bundled into bench/results/; the echo also with the plugins that
 * change what Koa and its dependencies load at start (the mime-db cut, no eager fetch, lazy requires…), the
 * limit a cold start of ours can reach.
 */
export async function bundleKoaPeers() {
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  /** @type {Array<{ entry: string, outfile: string, plugins: import('esbuild').Plugin[] }>} */
  const peerBundles = [
    { entry: 'koa-minimal.cjs', outfile: paths.koaBundle, plugins: [] },
    { entry: 'koa-minimal.cjs', outfile: paths.koaStartUpBundle, plugins: startUpPlugins(root) },
    { entry: 'koa-forwarder.cjs', outfile: paths.koaForwarderBundle, plugins: [] },
  ];
  for (const { entry, outfile, plugins } of peerBundles) {
    await build({
      plugins,
      entryPoints: [`${peers}${entry}`],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      logLevel: 'warning',
    });
  }
}

export function removeKoaPeers() {
  rmSync(paths.koaBundle, { force: true });
  rmSync(paths.koaStartUpBundle, { force: true });
  rmSync(paths.koaForwarderBundle, { force: true });
}
