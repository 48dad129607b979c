// Turns the bundle (dist/knative-events.cjs) into one executable, dist/knative-events: a copy of this Node
// binary with the bundle injected as a single executable application (SEA) blob. The result runs every role
// with no Node installation next to it.
//
//   node build/build-binary.mjs [--no-code-cache] [--output dist/other-name]
//
// The V8 code cache is on by default: the blob then carries the bundle's code and the bundle's own V8 cache as
// assets, compiled together by build/sea-loader.cjs (why: see there); --no-code-cache embeds esbuild's output
// as the main script with no cache, so that gain stays measurable.
// postject (the tool that writes the blob into the binary) comes from node_modules when it is installed
// there, otherwise from `npx --yes postject@1.0.0-alpha.6`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedParts, plainBundle } from './code-cache.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist/knative-events.cjs');
// The fuse Node looks for to know a blob was injected; fixed by Node for every version that has SEA.
const sentinelFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const postjectVersion = '1.0.0-alpha.6';

function option(name) {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

// postject prints one "Can't find string offset for section name '.note…'" warning per ELF note section it
// walks: LIEF (its ELF library) cannot name sections Node's binary leaves unnamed. They are harmless — the blob
// is injected and test/binary.test.ts runs the result — so they are dropped and mentioned once.
const harmless = /^warning: Can't find string offset for section name /;

/** Runs a step quietly: its output is shown only when it fails, apart from `keep` lines. */
function quietly(command, args, options = {}) {
  const r = spawnSync(command, args, { ...options, encoding: 'utf8' });
  const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '');
  if (r.status !== 0 || r.error) {
    process.stderr.write(`${lines.join('\n')}\n`);
    throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit code ${r.status}`})`);
  }
  return lines;
}

/** Runs postject from node_modules if it is there (faster, offline), else through npx. */
function postject(args) {
  let cli;
  try {
    cli = createRequire(join(root, 'package.json')).resolve('postject/dist/cli.js');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'MODULE_NOT_FOUND') throw err;
  }
  const lines = cli
    ? quietly(process.execPath, [cli, ...args])
    : quietly('npx', ['--yes', `postject@${postjectVersion}`, ...args]);
  const filtered = lines.filter((l) => harmless.test(l)).length;
  if (filtered > 0)
    console.log(
      `postject: ${filtered} "Can't find string offset for section name" warnings hidden (harmless: unnamed ELF note sections)`,
    );
  // eslint-disable-next-line no-control-regex -- postject colours its progress lines
  const colour = /\x1b\[[0-9;]*m/g;
  const progress = (l) => /injection|Injection done/i.test(l.replace(colour, ''));
  for (const line of lines.filter((l) => !harmless.test(l) && !progress(l))) console.log(line);
}

/**
 * What the executable runs. With the code cache: build/sea-loader.cjs as its main script, the bundle's code and
 * the bundle's own V8 cache (made by running the roles' first requests) as assets. Without: esbuild's output as
 * the main script. A bundle built with --no-code-cache gets Node's own cache (made by compiling, not running).
 * @param {string} work @param {string} blob @param {boolean} codeCache
 */
function seaConfig(work, blob, codeCache) {
  const common = { output: blob, disableExperimentalSEAWarning: true };
  const parts = codeCache ? embeddedParts(bundle) : undefined;
  if (!parts) {
    const main = join(work, 'knative-events.cjs');
    writeFileSync(main, plainBundle(bundle));
    return { ...common, main, useCodeCache: codeCache };
  }
  /** @type {Record<string, string>} */
  const assets = { code: join(work, 'code.js'), cache: join(work, 'code.cache') };
  writeFileSync(assets.code, parts.code, 'latin1');
  writeFileSync(assets.cache, parts.cache);
  for (const [name, literal] of Object.entries(parts.deferred)) {
    assets[`deferred:${name}`] = join(work, `deferred-${name}.js`);
    writeFileSync(assets[`deferred:${name}`], literal, 'latin1');
  }
  return { ...common, main: join(root, 'build/sea-loader.cjs'), useCodeCache: false, assets };
}

export function buildBinary({ output = join(root, 'dist/knative-events'), codeCache = true } = {}) {
  if (!existsSync(bundle))
    execFileSync(process.execPath, [join(root, 'build/build.mjs')], { cwd: root, stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'knative-events-sea-'));
  try {
    const blob = join(work, 'sea-prep.blob');
    const config = join(work, 'sea-config.json');
    writeFileSync(config, JSON.stringify(seaConfig(work, blob, codeCache)));
    quietly(process.execPath, ['--experimental-sea-config', config], { cwd: work });
    // Write next to the target and rename, so a test never sees a half-written executable; named per process,
    // so two builds at once (a test and a benchmark) do not write into each other's copy.
    const partial = `${output}.${process.pid}.partial`;
    rmSync(partial, { force: true });
    copyFileSync(process.execPath, partial);
    chmodSync(partial, 0o755);
    postject([partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', sentinelFuse]);
    rmSync(output, { force: true });
    execFileSync('mv', [partial, output]);
    return output;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  const started = Date.now();
  const outputOption = option('--output');
  const output = buildBinary({
    output: outputOption ? resolve(outputOption) : undefined,
    codeCache: !process.argv.includes('--no-code-cache'),
  });
  const mib = statSync(output).size / 1024 / 1024;
  const shown = relative(process.cwd(), output).startsWith('..') ? output : relative(process.cwd(), output);
  console.log(
    `${shown}: ${mib.toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s (Node ${process.version})`,
  );
}
