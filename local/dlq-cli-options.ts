// `npm run dlq`'s command line: the usage text, the options, and the list's filters as the API's query.
import { parseCommandLine } from './cli-args.js';
import { CliError } from './dlq-cli-error.js';

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

export type Values = ReturnType<typeof parse>['values'];

export function parse(argv: readonly string[]) {
  return parseCommandLine(
    { args: [...argv], options, allowPositionals: true, strict: true },
    (message) => new CliError(`${message}\n\n${usage}`),
  );
}

/** The list's filters, named as the admin API's query parameters. */
export function filterQuery(values: Values): Record<string, string> {
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

/** A boolean flag as the API's `true`, or absent. */
export const flagQuery = (on: boolean | undefined): 'true' | undefined => (on ? 'true' : undefined);
