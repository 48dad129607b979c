// `npm run send -- --type T --source S --data '{...}'`: posts one CloudEvent (binary mode, JSON data) to
// the running pipeline's handler, found through the state file `npm start` writes (.local-run/state.json).
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { parseArgs } from 'node:util';
import { signRequest, signatureHeader, timestampHeader } from '../runtime/http/hmac-signature.js';
import { parseSecretFile } from '../runtime/secrets/env-file.js';
import { isEntryPoint, localStateFile, parseCommandLine } from './cli-args.js';
import { isAlive, readState } from './state.js';

const usage = `usage: npm run send -- --type TYPE --source SOURCE --data JSON [--subject S] [--id ID] [--ext name=value ...]
                       [--service NAME] [--url URL] [--state FILE] [--sign [--key KEY] [--key-secret NAME]]
  posts a binary-mode CloudEvent to the handler of the pipeline \`npm start\` runs (or to --url / --service)
  --sign  signs it as HANDLER_AUTH=hmac requires, with --key, else $HANDLER_AUTH_KEY, else the first key in
          the running pipeline's secret HANDLER_AUTH_KEYS (--key-secret), from the local secrets file`;

export class SendError extends Error {}

export interface SendRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Builds the request from command-line arguments and the state file; throws SendError with what to do. */
export interface SendDefaults {
  readonly stateFile: string;
  readonly newId: () => string;
  readonly now?: () => Date;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const sendOptions = {
  type: { type: 'string' },
  source: { type: 'string' },
  data: { type: 'string' },
  subject: { type: 'string' },
  id: { type: 'string' },
  ext: { type: 'string', multiple: true },
  service: { type: 'string' },
  url: { type: 'string' },
  state: { type: 'string' },
  sign: { type: 'boolean' },
  key: { type: 'string' },
  'key-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type SendValues = ReturnType<typeof parseArgs<{ options: typeof sendOptions }>>['values'];

/** The URL to send to: --url, or a service of the running pipeline (the handler unless --service says). */
function targetUrl(v: SendValues, state: ReturnType<typeof readState>, stateFile: string): string {
  if (v.url) return v.url;
  if (!state || !isAlive(state.pid))
    throw new SendError(
      `no pipeline is running (${stateFile} ${state ? 'is stale' : 'not found'}): start it with \`npm start\` first, or pass --url`,
    );
  const target = v.service
    ? state.services.find((s) => s.short === v.service)
    : state.services.find((s) => s.role === 'handler');
  if (!target)
    throw new SendError(
      v.service
        ? `no service ${v.service}; running: ${state.services.map((s) => s.short).join(', ')}`
        : 'the running pipeline has no handler service: pass --service NAME',
    );
  return target.url;
}

/** The binary-mode ce- headers, from the flags (each --ext name=value as its own attribute). */
function eventHeaders(v: SendValues, defaults: SendDefaults): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': v.id ?? defaults.newId(),
    'ce-type': v.type as string,
    'ce-source': v.source as string,
    'ce-time': new Date().toISOString(),
  };
  if (v.subject) headers['ce-subject'] = v.subject;
  for (const ext of v.ext ?? []) {
    const [name, ...rest] = ext.split('=');
    if (!name || !/^[a-z0-9]{1,20}$/.test(name) || rest.length === 0)
      throw new SendError(`--ext ${ext}: expected name=value with a name of 1-20 lowercase letters or digits`);
    headers[`ce-${name}`] = rest.join('=');
  }
  return headers;
}

export function buildRequest(argv: readonly string[], defaults: SendDefaults): SendRequest | 'help' {
  const parsed = parseCommandLine(
    { args: [...argv], options: sendOptions },
    (message) => new SendError(`${message}\n${usage}`),
  );
  const v = parsed.values;
  if (v.help) return 'help';
  const missing = (['type', 'source', 'data'] as const).filter((k) => !v[k]);
  if (missing.length > 0) throw new SendError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${usage}`);
  try {
    JSON.parse(v.data as string);
  } catch (err) {
    throw new SendError(`--data is not valid JSON (${(err as Error).message}): quote it, e.g. --data '{"a":1}'`);
  }
  const stateFile = resolve(process.cwd(), v.state ?? defaults.stateFile);
  const state = readState(stateFile);
  const url = targetUrl(v, state, stateFile);
  const headers = eventHeaders(v, defaults);
  if (v.sign) {
    const key =
      v.key ?? defaults.env?.HANDLER_AUTH_KEY ?? keyFromPipeline(state, v['key-secret'] ?? 'HANDLER_AUTH_KEYS');
    const timestamp = String(Math.floor((defaults.now?.() ?? new Date()).getTime() / 1000));
    headers[timestampHeader] = timestamp;
    headers[signatureHeader] = signRequest(key, { timestamp, method: 'POST', headers, body: v.data as string });
  }
  return { url, headers, body: v.data as string };
}

/** The first key of the secret, from the agent files the running pipeline wrote for its services. */
function keyFromPipeline(state: ReturnType<typeof readState>, secretName: string): string {
  const hint = 'pass --key or set HANDLER_AUTH_KEY';
  if (!state || !isAlive(state.pid))
    throw new SendError(`--sign: no running pipeline to read ${secretName} from: ${hint}`);
  // The same files, read the same way, as the pipeline's handler (local/secrets.ts writes them).
  const dir = resolve(state.outDir, 'secrets');
  const values = new Map<string, string>();
  try {
    for (const name of readdirSync(dir)
      .filter((n) => !n.startsWith('.'))
      .sort()) {
      for (const [k, value] of parseSecretFile(readFileSync(join(dir, name), 'utf8'), join(dir, name)))
        values.set(k, value);
    }
  } catch (err) {
    throw new SendError(
      `--sign: cannot read the pipeline's secrets (${(err as Error).message}): ${hint}, or set local.secretsFile`,
    );
  }
  const key = values
    .get(secretName)
    ?.split(',')
    .map((k) => k.trim())
    .find(Boolean);
  if (!key) throw new SendError(`--sign: the local secrets file defines no ${secretName}: ${hint}`);
  return key;
}

async function main(): Promise<void> {
  const req = buildRequest(process.argv.slice(2), {
    stateFile: localStateFile,
    newId: randomUUID,
    env: process.env,
  });
  if (req === 'help') {
    console.log(usage);
    return;
  }
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new SendError(
      `${req.url} did not answer (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}): is \`npm start\` still running?`,
    );
  }
  const text = await res.text();
  console.log(`${res.status} ${res.statusText} ← POST ${req.url} (ce-id ${req.headers['ce-id']})`);
  if (text) console.log(text);
  // A 2xx only means the handler handed the event to the broker: what the subscribers make of it shows up later,
  // in their log lines (a function's 422, say), not here.
  if (res.status >= 200 && res.status <= 299)
    console.log('accepted by the handler; follow it in the logs of `npm start`');
  else process.exitCode = 1;
}

if (isEntryPoint(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`npm run send: ${err instanceof SendError ? err.message : String(err)}`);
    process.exit(1);
  });
}
