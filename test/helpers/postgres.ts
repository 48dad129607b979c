// A throwaway PostgreSQL server for tests: a new cluster in a temporary directory, listening on loopback on a free
// port, run as an unprivileged user (PostgreSQL refuses to run as root, and CI runs as root: then the
// `postgres` account Debian's package creates, or `nobody`, runs it). Password authentication over TCP with a
// password of its own, so the URLs tests use look like real ones. Binaries are found with `pg_config --bindir`, then
// under /usr/lib/postgresql/<version>/bin, then on PATH; a missing PostgreSQL is an error, never a skip
// (`.ci/run` installs Debian's `postgresql`).
//
//   const pg = await startPostgres();
//   const url = await pg.createDatabase('dlq_a');   // postgres://test:...@127.0.0.1:<port>/dlq_a
//   await pg.stop(); await pg.start();              // the same data, the same port
//   await pg.close();                               // stop and delete everything
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './bundle.js';

const run = promisify(execFile);

export interface PostgresServer {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dir: string;
  /** A URL for `database` (default: the cluster's `postgres` database). */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs one statement as the test user on `database`. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  start(): Promise<void>;
  /** `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery on the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  restart(): Promise<void>;
  /** The server's own log, for a failing test's message. */
  log(): Promise<string>;
  close(): Promise<void>;
}

export function postgresBinDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config: look elsewhere
  }
  if (existsSync('/usr/lib/postgresql')) {
    for (const version of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)))
      candidates.push(`/usr/lib/postgresql/${version}/bin`);
  }
  for (const dir of (process.env.PATH ?? '').split(':')) candidates.push(dir);
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  if (!found)
    throw new Error(
      "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package (.ci/run does)",
    );
  return found;
}

interface Account {
  user: string;
  uid: number;
  gid: number;
}

/** Who runs the server: ourselves, or an unprivileged account when we are root. */
function serverAccount(): Account | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      return { user, uid, gid };
    } catch {
      // no such account
    }
  }
  throw new Error('running as root and there is no unprivileged account (postgres, nobody) to run PostgreSQL as');
}

const USER = 'test';

/**
 * initdb's options. No password: the test user gets one of its own server's after the start (`setPassword`), so the
 * cluster initdb makes is the same for every server and can be copied.
 */
const INITDB_OPTIONS = [
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

interface Template {
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

function templateFor(bin: string, account: Account | undefined): Template {
  // the binaries' files rather than `postgres --version` (a process: ~50 ms of CPU on every start)
  const locale = ['LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'LC_MESSAGES', 'LANG'].map((name) => process.env[name] ?? '');
  const made = { bin, binaries: binaries(bin), options: INITDB_OPTIONS, locale, uid: userInfo().uid, account };
  const identity = `${JSON.stringify(made)}\n`;
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return { dir: join(TEMPLATE_ROOT, `postgres-template-${hash}`), identity };
}

/** Copies the template's cluster to `data`; false when there is none or it is not usable (then it is removed). */
async function copyTemplate(template: Template, data: string): Promise<boolean> {
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

async function discardTemplate(dir: string): Promise<void> {
  const doomed = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  // renamed first, so no process copies a template that is half removed
  await rename(dir, doomed).then(
    () => rm(doomed, { recursive: true, force: true }),
    () => undefined,
  );
}

/** Keeps a copy of the new, never started cluster in `data` as the template (unless one made it first). */
async function publishTemplate(template: Template, data: string): Promise<void> {
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startPostgres(options: { fsync?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const account = serverAccount();
  const template = templateFor(bin, account);
  const dir = await mkdtemp(join(tmpdir(), 'knative-events-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const user = USER;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const port = await freePort();
  if (account) await chown(dir, account.uid, account.gid);

  const pgCommand = async (name: string, args: string[], timeoutMs = 60_000) => {
    const command = account
      ? ['runuser', '-u', account.user, '--', join(bin, name), ...args]
      : [join(bin, name), ...args];
    try {
      return await run(command[0] as string, command.slice(1), { timeout: timeoutMs, cwd: dir });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${name} failed: ${e.stderr || e.stdout || e.message}`);
    }
  };

  /** A new cluster in `data`, this server's settings added; true when it is a copy of the template. */
  const newCluster = async (): Promise<boolean> => {
    const copied = await copyTemplate(template, data);
    if (!copied) {
      await pgCommand('initdb', ['-D', data, ...INITDB_OPTIONS]);
      await publishTemplate(template, data);
    }
    const settings = [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'max_connections = 100',
      `fsync = ${options.fsync === false ? 'off' : 'on'}`,
    ];
    await writeFile(join(data, 'postgresql.auto.conf'), `${settings.join('\n')}\n`, { flag: 'a' });
    return copied;
  };

  /** The test user's password, set over the unix socket (where initdb's `--auth-local=trust` lets it in). */
  const setPassword = async () => {
    const client = new pg.Client({ host: dir, port, user, database: 'postgres', connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query(`ALTER USER "${user}" PASSWORD ${client.escapeLiteral(password)}`);
    } finally {
      await client.end();
    }
  };

  const url = (database = 'postgres') =>
    `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const server: PostgresServer = {
    port,
    user,
    password,
    dir,
    url,
    async createDatabase(name) {
      await server.query('postgres', `CREATE DATABASE "${name}"`);
      return url(name);
    },
    async query(database, sql, params) {
      const client = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
    async start() {
      await pgCommand('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
    },
    async stop(mode = 'fast') {
      await pgCommand('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async close() {
      await server.stop('immediate').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    if (await newCluster()) {
      try {
        await server.start();
      } catch {
        // a template that copies but does not start (damaged since it was made): made again, from a new initdb
        await server.stop('immediate').catch(() => undefined);
        await rm(data, { recursive: true, force: true });
        await rm(logFile, { force: true });
        await discardTemplate(template.dir);
        await newCluster();
        await server.start();
      }
    } else {
      await server.start();
    }
    await setPassword();
  } catch (err) {
    // the log says why; nothing is left running or on disk
    const log = await server.log();
    await server.close();
    throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
  }
  return server;
}
