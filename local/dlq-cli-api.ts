// The dlq's admin API as `npm run dlq` calls it: one request with the token and the caller's label, and its
// JSON answer checked against what the command reads (valibot), so a dlq of another version that answers
// differently is a clear error instead of "undefined" in a table. The schemas are loose: --json prints the
// answer whole, fields the command does not read included.
import * as v from 'valibot';
import { CliError } from './dlq-cli-error.js';

export interface Target {
  readonly url: string;
  readonly token: string;
}

/** A row of a table: any JSON object. */
const Row = v.record(v.string(), v.unknown());
export type Row = v.InferOutput<typeof Row>;

const LetterSummary = v.looseObject({
  id: v.string(),
  error: v.looseObject({ code: v.optional(v.string()), destination: v.optional(v.string()) }),
  replayedAt: v.optional(v.nullable(v.string())),
});
export type LetterSummary = v.InferOutput<typeof LetterSummary>;

export const ListPage = v.looseObject({
  items: v.array(LetterSummary),
  corrupt: v.array(v.unknown()),
  nextCursor: v.nullable(v.string()),
});

export const Shown = v.looseObject({ deadLetter: Row });

export const ReplayedOne = v.looseObject({
  dryRun: v.optional(v.boolean()),
  replayed: v.optional(v.boolean()),
  event: v.optional(v.looseObject({ id: v.optional(v.unknown()) })),
  target: v.optional(v.string()),
  status: v.optional(v.number()),
  replayId: v.optional(v.nullable(v.string())),
  alreadyReplayedAt: v.optional(v.nullable(v.string())),
  wouldSend: v.optional(v.boolean()),
});
export type ReplayedOne = v.InferOutput<typeof ReplayedOne>;

export const ReplayPlan = v.looseObject({
  count: v.number(),
  to: v.string(),
  rate: v.number(),
  estimatedSeconds: v.number(),
  sample: v.array(Row),
});

const Job = v.looseObject({
  id: v.string(),
  state: v.string(),
  to: v.string(),
  rate: v.number(),
  total: v.nullable(v.number()),
  done: v.number(),
  replayed: v.number(),
  skipped: v.number(),
  failed: v.number(),
  failures: v.optional(v.array(Row)),
  reason: v.optional(v.string()),
});
export type Job = v.InferOutput<typeof Job>;

export const OneJob = v.looseObject({ job: Job });
export const Jobs = v.looseObject({ jobs: v.array(Job) });

export const PurgePlan = v.looseObject({ count: v.number(), sample: v.array(LetterSummary) });
export const Purged = v.looseObject({ purged: v.number() });

export const AuditLog = v.looseObject({
  items: v.array(v.looseObject({ caller: v.looseObject({ label: v.string() }) })),
});

/** An error answer's message, when it has the API's envelope. */
const ErrorAnswer = v.object({ error: v.object({ message: v.string() }) });

export type Query = Record<string, string | undefined>;

export interface Fetcher {
  readonly fetch: typeof fetch;
}

function parseJson(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** Calls the admin API; a failure (no answer, an error status, an answer of another shape) is a CliError. */
export function adminClient(target: Target, caller: string, io: Fetcher) {
  return async function call<S extends v.GenericSchema>(
    schema: S,
    method: string,
    path: string,
    query: Query = {},
  ): Promise<v.InferOutput<S>> {
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
    const body = parseJson(text);
    if (!res.ok) {
      const failed = v.safeParse(ErrorAnswer, body);
      const message = failed.success ? failed.output.error.message : text.slice(0, 200);
      throw new CliError(`${method} ${url.pathname} answered ${res.status}: ${message}`);
    }
    const parsed = v.safeParse(schema, body);
    if (!parsed.success)
      throw new CliError(
        `${method} ${url.pathname}: unexpected answer (${v.summarize(parsed.issues)}): ${text.slice(0, 200)}`,
      );
    return parsed.output;
  };
}
export type AdminCall = ReturnType<typeof adminClient>;
