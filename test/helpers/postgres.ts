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
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './bundle.js';
import {
  copyTemplate,
  discardTemplate,
  INITDB_OPTIONS,
  publishTemplate,
  templateFor,
  USER,
} from './postgres-template.js';

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
