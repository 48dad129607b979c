// The template cluster of test/helpers/postgres.ts: initdb's result kept under .tools/cache/ and copied by every later
// server, in this run or the next (see the comment above TEMPLATE_ROOT for how it stays correct).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isAlive } from '../../local/state.js';

const run = promisify(execFile);

/** The cluster's user: the URLs' `test`. */
export const USER = 'test';

/**
 * initdb's options. No password: the test user gets one of its own server's after the start (`setPassword`), so the
 * cluster initdb makes is the same for every server and can be copied.
 */
export const INITDB_OPTIONS = [
  '-U',
  USER,
  '--auth-host=scram-sha-256',
  '--auth-local=trust',
  '-E',
  'UTF8',
  '--no-sync',
  '--no-instructions',
];

/*
 * initdb costs 1-2 s of CPU (its bootstrap runs the server several times), copying its result about a quarter of
 * that: the first server on a machine keeps a copy of its new cluster under .tools/cache/ (ignored by git) as a
 * template, and every later server, in this run or the next, copies the template instead of running initdb.
 *
 * The template's name holds a hash of everything its files depend on (the binaries, initdb's options, the locale
 * initdb reads, who runs it): another PostgreSQL (an upgrade, removed binaries, another version found) is another
 * template, made by its first server. It appears whole or not at all: made in a folder beside it and renamed into
 * place, so a process starting at the same time sees no template (and runs initdb itself; the second rename fails
 * and its copy is dropped) or a complete one. One that is not as made (its identity file missing or different, a
 * copy that fails, a cluster that does not start) is removed and made again; no test fails for it.
 */
const TEMPLATE_ROOT = fileURLToPath(new URL('../../.tools/cache/', import.meta.url));

export interface Template {
  dir: string;
  /** What the cluster was made from, written beside it: a template whose file says otherwise is not used. */
  identity: string;
}

/** The server's binaries as files: an upgrade or another version replaces them, and with them the template. */
function binaries(bin: string): { name: string; size: number; mtimeMs: number }[] | undefined {
  try {
    return ['initdb', 'postgres'].map((name) => {
      const { size, mtimeMs } = statSync(join(bin, name));
      return { name, size, mtimeMs };
    });
  } catch {
    return undefined;
  }
}

export function templateFor(bin: string, account: unknown): Template {
  // the binaries' files rather than `postgres --version` (a process: ~50 ms of CPU on every start)
  const locale = ['LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'LC_MESSAGES', 'LANG'].map((name) => process.env[name] ?? '');
  const made = { bin, binaries: binaries(bin), options: INITDB_OPTIONS, locale, uid: userInfo().uid, account };
  const identity = `${JSON.stringify(made)}\n`;
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return { dir: join(TEMPLATE_ROOT, `postgres-template-${hash}`), identity };
}

/** Copies the template's cluster to `data`; false when there is none or it is not usable (then it is removed). */
export async function copyTemplate(template: Template, data: string): Promise<boolean> {
  if (!existsSync(template.dir)) return false;
  try {
    if ((await readFile(join(template.dir, 'identity'), 'utf8')) !== template.identity) throw new Error('not as made');
    await run('cp', ['-a', join(template.dir, 'data'), data]);
    return true;
  } catch {
    await rm(data, { recursive: true, force: true });
    await discardTemplate(template.dir);
    return false;
  }
}

/** Folders beside the templates are named `<template>.<pid>.<random>` while being made or removed. */
const TRANSIENT = /^postgres-template-.*\.(\d+)\.[A-Za-z0-9]+$/;

export async function discardTemplate(dir: string): Promise<void> {
  const doomed = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  // renamed first, so no process copies a template that is half removed
  await rename(dir, doomed).then(
    () => rm(doomed, { recursive: true, force: true }),
    () => undefined,
  );
}

/** Keeps a copy of the new, never started cluster in `data` as the template (unless one made it first). */
export async function publishTemplate(template: Template, data: string): Promise<void> {
  let made: string | undefined;
  try {
    await mkdir(TEMPLATE_ROOT, { recursive: true });
    await removeLeftovers();
    made = await mkdtemp(`${template.dir}.${process.pid}.`);
    await run('cp', ['-a', data, join(made, 'data')]);
    await writeFile(join(made, 'identity'), template.identity);
    // on disk before it is renamed into place: after a crash, no template rather than one with empty files
    // (initdb ran with --no-sync); syncfs, one call where fsync of each of its ~1000 files would be ~1000 commits
    await run('sync', ['-f', join(made, 'identity')]);
    await rename(made, template.dir);
  } catch {
    // a template made by another process first, or none can be kept (a read-only tree): initdb again next time
    if (made) await rm(made, { recursive: true, force: true });
  }
}

/**
 * Removes, each a cluster's size: what processes killed while making or removing a template left behind, and the
 * templates of binaries no longer there as they were (after an upgrade; no process can pick them any more).
 */
async function removeLeftovers(): Promise<void> {
  for (const name of readdirSync(TEMPLATE_ROOT)) {
    const path = join(TEMPLATE_ROOT, name);
    const pid = Number(TRANSIENT.exec(name)?.[1]);
    if (pid > 0 && !isAlive(pid)) await rm(path, { recursive: true, force: true });
    if (!/^postgres-template-[0-9a-f]+$/.test(name)) continue;
    let made: { bin: string; binaries: unknown };
    try {
      made = JSON.parse(await readFile(join(path, 'identity'), 'utf8')) as typeof made;
    } catch {
      continue; // being made or removed, or not as made: what uses it makes it again
    }
    if (JSON.stringify(binaries(made.bin)) !== JSON.stringify(made.binaries)) await discardTemplate(path);
  }
}
