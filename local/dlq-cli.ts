// `npm run dlq -- list|show|replay|purge|jobs|job|cancel|resume|audit …`: the dead-letter admin API for scripts,
// against any dlq. The dlq and its token: --url / --token, else $DLQ_URL / $DLQ_ADMIN_TOKEN, else the running
// local pipeline's (the state file `npm start` writes). Output is a table for people or --json for scripts.
// The command line is dlq-cli-options.ts, the calls dlq-cli-api.ts, the commands dlq-cli-commands.ts.
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { isEntryPoint, localStateFile } from './cli-args.js';
import { adminClient, type Target } from './dlq-cli-api.js';
import { commands } from './dlq-cli-commands.js';
import { CliError } from './dlq-cli-error.js';
import { parse, usage, type Values } from './dlq-cli-options.js';
import { readState } from './state.js';

export { CliError } from './dlq-cli-error.js';
export { usage } from './dlq-cli-options.js';

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly fetch: typeof fetch;
  readonly sleep: (ms: number) => Promise<void>;
  readonly cwd: string;
}

function targetOf(values: Values, io: CliIo): Target {
  let url = values.url ?? io.env.DLQ_URL;
  let token = values.token ?? io.env.DLQ_ADMIN_TOKEN;
  if (!url || !token) {
    const stateFile = resolve(io.cwd, values.state ?? localStateFile);
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

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.out(usage);
    return command || values.help ? 0 : 2;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${usage}`);
  const target = targetOf(values, io);
  const caller = values.caller ?? io.env.DLQ_CALLER ?? `${io.env.USER ?? safeUser()}@${hostname()}`;
  const call = adminClient(target, caller, io);
  const print = (json: unknown, text: () => string) => io.out(values.json ? JSON.stringify(json, null, 2) : text());
  return run({ command, values, rest, call, print, out: io.out, sleep: io.sleep });
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (text) => process.stdout.write(`${text}\n`),
    fetch,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    cwd: process.cwd(),
  }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `${err instanceof CliError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(err instanceof CliError ? 2 : 1);
    },
  );
}
