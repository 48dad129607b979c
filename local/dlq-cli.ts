// `npm run dlq -- list|show|replay|purge|jobs|job|cancel|resume|audit …`: the dead-letter admin API for scripts,
// against any dlq. The dlq and its token: --url / --token, else $DLQ_URL / $DLQ_ADMIN_TOKEN, else the running
// local pipeline's (the state file `npm start` writes). Output is a table for people or --json for scripts.
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readState } from './state.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export const usage = `usage: npm run dlq -- <command> [arguments] [options]

commands
  list                       dead letters, newest first (--limit N, default 50; --all-pages for every one)
  show <id>                  one dead letter: attributes, data, the failing answer
  replay <id>                send it again (--to, --force, --dry-run)
  replay <filters>|--ids a,b|--all
                             a bulk replay job (--to, --rate N per second, --force, --dry-run, --wait)
  purge <id>...|<filters>|--all
                             remove for good; asks for --yes, and --dry-run only counts
  jobs                       the latest replay jobs
  job <job-id>               one job's progress (--wait: until it ends)
  cancel <job-id>            stop a running job
  resume <job-id>            go on with an interrupted or failed job
  audit                      every replay and purge, newest first (--limit N)

filters (as in the console): --type T --source S --code C --destination URL --replayed true|false
                             --received-from ISO --received-to ISO
replay target: --to destination (default: the subscriber that failed) | broker | <a URL in DLQ_REPLAY_TARGETS>
options: --url URL (the dlq, e.g. http://localhost:8083/) --token T --caller LABEL (for the audit log;
         default $USER@host) --service SHORT (which dlq of the local pipeline) --state FILE --json`;

export class CliError extends Error {}

interface Target {
  readonly url: string;
  readonly token: string;
}

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly fetch: typeof fetch;
  readonly sleep: (ms: number) => Promise<void>;
  readonly cwd: string;
}

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  caller: { type: 'string' },
  service: { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  'all-pages': { type: 'boolean' },
  type: { type: 'string' },
  source: { type: 'string' },
  code: { type: 'string' },
  destination: { type: 'string' },
  replayed: { type: 'string' },
  'received-from': { type: 'string' },
  'received-to': { type: 'string' },
  ids: { type: 'string' },
  all: { type: 'boolean' },
  to: { type: 'string' },
  rate: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  wait: { type: 'boolean' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${usage}`);
  }
}

function targetOf(values: Values, io: CliIo): Target {
  let url = values.url ?? io.env.DLQ_URL;
  let token = values.token ?? io.env.DLQ_ADMIN_TOKEN;
  if (!url || !token) {
    const stateFile = resolve(io.cwd, values.state ?? resolve(root, '.local-run/state.json'));
    const state = readState(stateFile);
    const admins = state?.dlqAdmin ?? [];
    const admin = values.service ? admins.find((a) => a.short === values.service) : admins[0];
    if (!url && admin) url = admin.url;
    if (!token && admin?.token) token = admin.token;
  }
  if (!url)
    throw new CliError(
      'which dlq? pass --url http://<host>:<port>/ (or set DLQ_URL), or start the local pipeline with `npm start`',
    );
  if (!token) throw new CliError('no admin token: pass --token (or set DLQ_ADMIN_TOKEN)');
  // The admin URL may be given as the service's root or as its /dead-letters.
  const base = new URL(url.replace(/\/dead-letters\/?$/, '/').replace(/([^/])$/, '$1/'));
  return { url: base.href, token };
}

function filterQuery(values: Values): Record<string, string> {
  const query: Record<string, string> = {};
  const map: Array<[keyof Values, string]> = [
    ['type', 'type'],
    ['source', 'source'],
    ['code', 'code'],
    ['destination', 'destination'],
    ['replayed', 'replayed'],
    ['received-from', 'receivedFrom'],
    ['received-to', 'receivedTo'],
  ];
  for (const [flag, name] of map) {
    const value = values[flag];
    if (typeof value === 'string' && value !== '') query[name] = value;
  }
  return query;
}

function table(rows: ReadonlyArray<Readonly<Record<string, unknown>>>, columns: readonly string[]): string {
  const cell = (value: unknown) => {
    const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    // One line per row, and no terminal control characters from a dead letter's attacker-controlled fields.
    return [...text.replace(/\s+/g, ' ')]
      .map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c))
      .join('');
  };
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) =>
    Math.min(60, Math.max(column.length, ...cells.map((r) => (r[i] as string).length))),
  );
  const fit = (text: string, width: number) =>
    text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
  return [
    columns.map((c, i) => fit(c, widths[i] as number)).join('  '),
    ...cells.map((r) => r.map((c, i) => fit(c, widths[i] as number)).join('  ')),
  ]
    .map((line) => line.trimEnd())
    .join('\n');
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.out(usage);
    return command || values.help ? 0 : 2;
  }
  const target = targetOf(values, io);
  const caller = values.caller ?? io.env.DLQ_CALLER ?? `${io.env.USER ?? safeUser()}@${hostname()}`;

  async function call(method: string, path: string, query: Record<string, string | undefined> = {}) {
    const url = new URL(path.replace(/^\//, ''), target.url);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    let res: Response;
    try {
      res = await io.fetch(url, {
        method,
        headers: { authorization: `Bearer ${target.token}`, 'x-dlq-caller': encodeURIComponent(caller) },
      });
    } catch (err) {
      throw new CliError(`cannot reach the dlq at ${target.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const message = (body?.error as { message?: string } | undefined)?.message ?? text.slice(0, 200);
      throw new CliError(`${method} ${url.pathname} answered ${res.status}: ${message}`);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return body as any;
  }
  const print = (json: unknown, text: () => string) => io.out(values.json ? JSON.stringify(json, null, 2) : text());
  const letterColumns = (items: Array<Record<string, unknown>>) =>
    items.map((i) => ({
      ...i,
      code: (i.error as { code?: string }).code,
      destination: (i.error as { destination?: string }).destination,
      replayed: i.replayedAt ?? 'no',
    }));

  const jobLine = (job: Record<string, unknown>) =>
    `${job.id}  ${job.state}  ${job.done}/${job.total ?? '?'}  replayed ${job.replayed}, skipped ${job.skipped}, failed ${job.failed}  to ${job.to} at ${job.rate}/s${job.reason ? `  (${job.reason})` : ''}`;

  async function waitForJob(id: string) {
    for (;;) {
      const { job } = await call('GET', `/dead-letters/replays/${encodeURIComponent(id)}`);
      if (!['running', 'counting'].includes(job.state)) return job;
      if (!values.json) io.out(jobLine(job));
      await io.sleep(1000);
    }
  }

  switch (command) {
    case 'list': {
      const limit = values.limit ?? '50';
      const items: Array<Record<string, unknown>> = [];
      let cursor: string | undefined;
      let corrupt: unknown[] = [];
      do {
        const page = await call('GET', '/dead-letters', {
          ...filterQuery(values),
          limit: values['all-pages'] ? '500' : limit,
          cursor,
        });
        items.push(...page.items);
        corrupt = page.corrupt;
        cursor = values['all-pages'] && page.nextCursor ? page.nextCursor : undefined;
      } while (cursor);
      print({ items, corrupt }, () =>
        table(letterColumns(items), [
          'id',
          'receivedAt',
          'eventId',
          'type',
          'source',
          'code',
          'destination',
          'replayed',
        ]),
      );
      return 0;
    }
    case 'show': {
      const id = rest[0];
      if (!id) throw new CliError('show needs a dead-letter id');
      const { deadLetter } = await call('GET', `/dead-letters/${encodeURIComponent(id)}`);
      print(deadLetter, () => JSON.stringify(deadLetter, null, 2));
      return 0;
    }
    case 'replay': {
      const to = values.to;
      if (rest.length === 1 && !values.ids && !values.all && Object.keys(filterQuery(values)).length === 0) {
        const body = await call('POST', `/dead-letters/${encodeURIComponent(rest[0] as string)}/replay`, {
          to,
          force: values.force ? 'true' : undefined,
          dryRun: values['dry-run'] ? 'true' : undefined,
        });
        print(body, () =>
          body.dryRun
            ? `would send event ${body.event.id} to ${body.target}${body.alreadyReplayedAt ? ` (already replayed at ${body.alreadyReplayedAt}${body.wouldSend ? '' : '; add --force'})` : ''}`
            : body.replayed
              ? `replayed to ${body.target}: ${body.status} (replay id ${body.replayId})`
              : `already replayed at ${body.alreadyReplayedAt}; add --force to send it again`,
        );
        return 0;
      }
      if (rest.length > 0) throw new CliError('replay takes one id, or filters / --ids / --all for a bulk job');
      const query = {
        ...filterQuery(values),
        ids: values.ids,
        all: values.all ? 'true' : undefined,
        to,
        rate: values.rate,
        force: values.force ? 'true' : undefined,
      };
      if (values['dry-run']) {
        const plan = await call('POST', '/dead-letters/replays', { ...query, dryRun: 'true' });
        print(
          plan,
          () =>
            `would replay ${plan.count} dead letter(s) to ${plan.to} at ${plan.rate}/s (about ${plan.estimatedSeconds} s); the first:\n${table(plan.sample, ['id', 'eventId', 'type', 'target', 'cannotReplay'])}`,
        );
        return 0;
      }
      const { job } = await call('POST', '/dead-letters/replays', query);
      if (!values.wait) {
        print(job, () => `replay job ${job.id} started; follow it with: npm run dlq -- job ${job.id} --wait`);
        return 0;
      }
      const done = await waitForJob(job.id);
      print(done, () => jobLine(done));
      return done.state === 'done' && done.failed === 0 ? 0 : 1;
    }
    case 'purge': {
      const selection =
        rest.length > 0
          ? { ids: rest.join(',') }
          : { ...filterQuery(values), ids: values.ids, all: values.all ? 'true' : undefined };
      const plan = await call('POST', '/dead-letters/purge', { ...selection, dryRun: 'true' });
      if (values['dry-run'] || !values.yes) {
        print(
          plan,
          () =>
            `${plan.count} dead letter(s) would be purged${values['dry-run'] ? '' : '; add --yes to purge them'}${plan.sample.length ? `:\n${table(letterColumns(plan.sample), ['id', 'eventId', 'type', 'code', 'destination'])}` : ''}`,
        );
        return values['dry-run'] ? 0 : 1;
      }
      const done = await call('POST', '/dead-letters/purge', selection);
      print(done, () => `purged ${done.purged} dead letter(s)`);
      return 0;
    }
    case 'jobs': {
      const { jobs } = await call('GET', '/dead-letters/replays');
      print(jobs, () =>
        table(jobs, ['id', 'state', 'createdAt', 'to', 'rate', 'total', 'done', 'replayed', 'skipped', 'failed']),
      );
      return 0;
    }
    case 'job':
    case 'cancel':
    case 'resume': {
      const id = rest[0];
      if (!id) throw new CliError(`${command} needs a job id (npm run dlq -- jobs lists them)`);
      let { job } =
        command === 'job'
          ? await call('GET', `/dead-letters/replays/${encodeURIComponent(id)}`)
          : await call('POST', `/dead-letters/replays/${encodeURIComponent(id)}/${command}`);
      if (values.wait) job = await waitForJob(id);
      print(
        job,
        () =>
          `${jobLine(job)}${job.failures?.length ? `\nfailures:\n${table(job.failures, ['id', 'eventId', 'message'])}` : ''}`,
      );
      return 0;
    }
    case 'audit': {
      const { items } = await call('GET', '/dead-letters/audit', { limit: values.limit ?? '50' });
      const rows = (items as Array<Record<string, unknown>>).map((e) => ({
        ...e,
        who: (e.caller as { label: string }).label,
      }));
      print(items, () => table(rows, ['at', 'action', 'who', 'what', 'result']));
      return 0;
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${usage}`);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (text) => process.stdout.write(`${text}\n`),
    fetch,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    cwd: process.cwd(),
  }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof CliError ? err.message : ((err as Error).stack ?? String(err))}\n`);
      process.exit(err instanceof CliError ? 2 : 1);
    },
  );
}
