// `npm run trace -- <event id>`: the event's path through the running local pipeline as a timeline (hops,
// durations, retries, the dead letter, replays), from the spans the pipeline's services export to the runner's
// trace store (local/traces.ts). The store is found through the state file `npm start` writes (its `traces`
// URL), or given with --url.
//
//   npm run trace -- <event id> [--url http://127.0.0.1:<port>] [--state .local-run/state.json] [--json]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReceivedSpan } from './otlp-decode.js';
import { formatTimeline } from './timeline.js';

const usage = 'usage: npm run trace -- <event id> [--url <trace store URL>] [--state <state.json>] [--json]';

export class TraceError extends Error {}

/** Where the trace store answers: --url, else the running pipeline's state file. */
export function storeUrl(values: { url?: string; state?: string }, root: string): string {
  if (values.url) return values.url;
  const file = resolve(root, values.state ?? '.local-run/state.json');
  let state: { traces?: string };
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as { traces?: string };
  } catch {
    throw new TraceError(`no pipeline is running (${file} not found): start it with \`npm start\`, or pass --url`);
  }
  if (!state.traces)
    throw new TraceError(`the running pipeline keeps no traces (${file} has no "traces" URL): pass --url`);
  return state.traces;
}

export async function fetchSpans(url: string, eventId: string): Promise<ReceivedSpan[]> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/traces?event=${encodeURIComponent(eventId)}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new TraceError(`the trace store at ${url} answered ${res.status}`);
  const spans = (await res.json()) as Array<ReceivedSpan & { startNs: string; endNs: string }>;
  return spans.map((s) => ({ ...s, startNs: BigInt(s.startNs), endNs: BigInt(s.endNs) }));
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      state: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(`${usage}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const eventId = positionals[0]!;
  const spans = await fetchSpans(storeUrl(values, fileURLToPath(new URL('..', import.meta.url))), eventId);
  process.stdout.write(
    values.json
      ? `${JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
      : `${formatTimeline(eventId, spans)}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`trace: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
