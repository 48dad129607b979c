// `npm run dlq`'s commands, one function each: what it asks the admin API and how it prints the answer
// (a table or a line for people, the answer's JSON with --json). Each returns the exit code.
import * as api from './dlq-cli-api.js';
import { CliError } from './dlq-cli-error.js';
import { jobLine, letterColumns, show, table } from './dlq-cli-format.js';
import { filterQuery, flagQuery, type Values } from './dlq-cli-options.js';

export interface CommandContext {
  readonly command: string;
  readonly values: Values;
  /** The positional arguments after the command. */
  readonly rest: readonly string[];
  readonly call: api.AdminCall;
  readonly print: (json: unknown, text: () => string) => void;
  readonly out: (text: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
}

export type Command = (cx: CommandContext) => Promise<number>;

const jobPath = (id: string) => `/dead-letters/replays/${encodeURIComponent(id)}`;

async function waitForJob(cx: CommandContext, id: string): Promise<api.Job> {
  for (;;) {
    const { job } = await cx.call(api.OneJob, 'GET', jobPath(id));
    if (!['running', 'counting'].includes(job.state)) return job;
    if (!cx.values.json) cx.out(jobLine(job));
    await cx.sleep(1000);
  }
}

const list: Command = async ({ values, call, print }) => {
  const items: api.LetterSummary[] = [];
  let cursor: string | undefined;
  let corrupt: unknown[] = [];
  do {
    const limit = values['all-pages'] ? '500' : (values.limit ?? '50');
    const page = await call(api.ListPage, 'GET', '/dead-letters', { ...filterQuery(values), limit, cursor });
    items.push(...page.items);
    corrupt = page.corrupt;
    cursor = values['all-pages'] && page.nextCursor ? page.nextCursor : undefined;
  } while (cursor);
  const columns = ['id', 'receivedAt', 'eventId', 'type', 'source', 'code', 'destination', 'replayed'];
  print({ items, corrupt }, () => table(letterColumns(items), columns));
  return 0;
};

const showOne: Command = async ({ rest, call, print }) => {
  const id = rest[0];
  if (!id) throw new CliError('show needs a dead-letter id');
  const { deadLetter } = await call(api.Shown, 'GET', `/dead-letters/${encodeURIComponent(id)}`);
  print(deadLetter, () => JSON.stringify(deadLetter, null, 2));
  return 0;
};

function replayedLine(body: api.ReplayedOne): string {
  const already = show(body.alreadyReplayedAt);
  if (body.dryRun) {
    const note = body.alreadyReplayedAt
      ? ` (already replayed at ${already}${body.wouldSend ? '' : '; add --force'})`
      : '';
    return `would send event ${show(body.event?.id)} to ${show(body.target)}${note}`;
  }
  if (body.replayed) return `replayed to ${show(body.target)}: ${show(body.status)} (replay id ${show(body.replayId)})`;
  return `already replayed at ${already}; add --force to send it again`;
}

const replayOne = async ({ values, call, print }: CommandContext, id: string): Promise<number> => {
  const body = await call(api.ReplayedOne, 'POST', `/dead-letters/${encodeURIComponent(id)}/replay`, {
    to: values.to,
    force: flagQuery(values.force),
    dryRun: flagQuery(values['dry-run']),
  });
  print(body, () => replayedLine(body));
  return 0;
};

const replayJob: Command = async (cx) => {
  const { values, call, print } = cx;
  const query = {
    ...filterQuery(values),
    ...{ ids: values.ids, all: flagQuery(values.all), to: values.to },
    ...{ rate: values.rate, force: flagQuery(values.force) },
  };
  if (values['dry-run']) {
    const plan = await call(api.ReplayPlan, 'POST', '/dead-letters/replays', { ...query, dryRun: 'true' });
    const first = table(plan.sample, ['id', 'eventId', 'type', 'target', 'cannotReplay']);
    const line = `would replay ${plan.count} dead letter(s) to ${plan.to} at ${plan.rate}/s (about ${plan.estimatedSeconds} s)`;
    print(plan, () => `${line}; the first:\n${first}`);
    return 0;
  }
  const { job } = await call(api.OneJob, 'POST', '/dead-letters/replays', query);
  if (!values.wait) {
    print(job, () => `replay job ${job.id} started; follow it with: npm run dlq -- job ${job.id} --wait`);
    return 0;
  }
  const done = await waitForJob(cx, job.id);
  print(done, () => jobLine(done));
  return done.state === 'done' && done.failed === 0 ? 0 : 1;
};

const replay: Command = (cx) => {
  const { values, rest } = cx;
  const bulk = values.ids || values.all || Object.keys(filterQuery(values)).length > 0;
  if (rest.length === 1 && rest[0] !== undefined && !bulk) return replayOne(cx, rest[0]);
  if (rest.length > 0) throw new CliError('replay takes one id, or filters / --ids / --all for a bulk job');
  return replayJob(cx);
};

const purge: Command = async ({ values, rest, call, print }) => {
  const selection =
    rest.length > 0 ? { ids: rest.join(',') } : { ...filterQuery(values), ids: values.ids, all: flagQuery(values.all) };
  const plan = await call(api.PurgePlan, 'POST', '/dead-letters/purge', { ...selection, dryRun: 'true' });
  if (values['dry-run'] || !values.yes) {
    const hint = values['dry-run'] ? '' : '; add --yes to purge them';
    const columns = ['id', 'eventId', 'type', 'code', 'destination'];
    const sample = plan.sample.length ? `:\n${table(letterColumns(plan.sample), columns)}` : '';
    print(plan, () => `${plan.count} dead letter(s) would be purged${hint}${sample}`);
    return values['dry-run'] ? 0 : 1;
  }
  const done = await call(api.Purged, 'POST', '/dead-letters/purge', selection);
  print(done, () => `purged ${done.purged} dead letter(s)`);
  return 0;
};

const jobs: Command = async ({ call, print }) => {
  const { jobs: all } = await call(api.Jobs, 'GET', '/dead-letters/replays');
  const columns = ['id', 'state', 'createdAt', 'to', 'rate', 'total', 'done', 'replayed', 'skipped', 'failed'];
  print(all, () => table(all, columns));
  return 0;
};

/** job, cancel, resume: one job, acted on or not, then shown (--wait: once it ends). */
const oneJob: Command = async (cx) => {
  const { command, values, rest, call, print } = cx;
  const id = rest[0];
  if (!id) throw new CliError(`${command} needs a job id (npm run dlq -- jobs lists them)`);
  let { job } =
    command === 'job'
      ? await call(api.OneJob, 'GET', jobPath(id))
      : await call(api.OneJob, 'POST', `${jobPath(id)}/${command}`);
  if (values.wait) job = await waitForJob(cx, id);
  const failures = job.failures?.length ? `\nfailures:\n${table(job.failures, ['id', 'eventId', 'message'])}` : '';
  print(job, () => `${jobLine(job)}${failures}`);
  return 0;
};

const audit: Command = async ({ values, call, print }) => {
  const { items } = await call(api.AuditLog, 'GET', '/dead-letters/audit', { limit: values.limit ?? '50' });
  const rows = items.map((e) => ({ ...e, who: e.caller.label }));
  print(items, () => table(rows, ['at', 'action', 'who', 'what', 'result']));
  return 0;
};

export const commands: Readonly<Record<string, Command>> = {
  list,
  show: showOne,
  replay,
  purge,
  jobs,
  job: oneJob,
  cancel: oneJob,
  resume: oneJob,
  audit,
};
