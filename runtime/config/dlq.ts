// The dlq's store section of the configuration: which store (file, postgres, kafka-sink) and its settings.
// DLQ_DATABASE_URL holds a password, so it is never quoted in a problem; like any variable it may be a
// `secret:NAME` reference (Vault, runtime/secrets/references.ts) or come from a Kubernetes Secret (env
// valueFrom), and a rotated secret rebuilds the role with a new connection pool (roles/rotating-role.ts).
import * as v from 'valibot';
import { httpUrl, integer, oneOf, type Env } from './fields.js';

export type ContentMode = 'binary' | 'structured';

export interface PostgresStoreConfig {
  readonly kind: 'postgres';
  readonly url: string;
  /** The schema holding the dead_letters table (created if missing). */
  readonly schema: string;
  readonly poolMax: number;
  /** Connecting, and each statement: past it the request is answered 503 and the store reports not ready. */
  readonly timeoutMs: number;
  /** Dead letters older than this many days are deleted; undefined keeps them forever. */
  readonly retentionDays: number | undefined;
}

export type DlqStoreConfig =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'kafka-sink'; readonly sink: { readonly url: string; readonly contentMode: ContentMode } }
  | PostgresStoreConfig;

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '' && url.pathname.length > 1
    );
  } catch {
    return false;
  }
}

export const dlqStoreEntries = {
  DLQ_STORE: oneOf(['file', 'postgres', 'kafka-sink'] as const, 'file'),
  DLQ_FILE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), 'dead-letters.jsonl'),
  KAFKA_SINK_URL: v.optional(
    httpUrl(
      'the KafkaSink ingress URL, e.g. http://kafka-sink-ingress.knative-eventing.svc.cluster.local/<namespace>/<sink>',
    ),
  ),
  SINK_CONTENT_MODE: oneOf(['binary', 'structured'] as const, 'binary'),
  DLQ_DATABASE_URL: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(isPostgresUrl, 'expected a PostgreSQL URL: postgres://<user>:<password>@<host>:<port>/<database>'),
    ),
  ),
  DLQ_DATABASE_SCHEMA: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a schema name: lowercase letters, digits and _, at most 63'),
    ),
  ),
  DLQ_DATABASE_POOL_MAX: integer(1, 100, 5),
  DLQ_DATABASE_TIMEOUT_MS: integer(100, 600_000, 5000),
  DLQ_RETENTION_DAYS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+$/, 'expected a whole number of days from 1 to 36500'),
      v.transform(Number),
      v.minValue(1, 'expected a whole number of days from 1 to 36500'),
      v.maxValue(36_500, 'expected a whole number of days from 1 to 36500'),
    ),
  ),
};

type ParsedStore = v.InferOutput<v.ObjectSchema<typeof dlqStoreEntries, undefined>>;

/** What a problem may quote: never the database URL (it carries a password). */
export function hideDatabaseUrl(shown: Env): Env {
  return shown.DLQ_DATABASE_URL === undefined
    ? shown
    : { ...shown, DLQ_DATABASE_URL: '<hidden: it may hold a password>' };
}

/** The store from the parsed variables; what is missing or does not fit the chosen store goes to `problems`. */
export function dlqStoreConfig(dlq: ParsedStore, problems: string[]): DlqStoreConfig | undefined {
  const kind = dlq.DLQ_STORE;
  if (kind !== 'postgres') {
    for (const name of ['DLQ_DATABASE_SCHEMA', 'DLQ_RETENTION_DAYS'] as const) {
      if (dlq[name] !== undefined)
        problems.push(`${name}: only applies to DLQ_STORE=postgres (DLQ_STORE is ${kind}); remove it`);
    }
  }
  if (kind === 'kafka-sink') {
    if (!dlq.KAFKA_SINK_URL) {
      problems.push(
        'KAFKA_SINK_URL: is required when DLQ_STORE is kafka-sink: the KafkaSink ingress URL of the dead-letter topic',
      );
      return undefined;
    }
    return Object.freeze({
      kind,
      sink: Object.freeze({ url: dlq.KAFKA_SINK_URL, contentMode: dlq.SINK_CONTENT_MODE }),
    });
  }
  if (kind === 'postgres') {
    if (!dlq.DLQ_DATABASE_URL) {
      problems.push(
        'DLQ_DATABASE_URL: is required when DLQ_STORE is postgres: postgres://<user>:<password>@<host>:<port>/<database>, usually secret:<NAME> (Vault) or from a Kubernetes Secret',
      );
      return undefined;
    }
    return Object.freeze({
      kind,
      url: dlq.DLQ_DATABASE_URL,
      schema: dlq.DLQ_DATABASE_SCHEMA ?? 'public',
      poolMax: dlq.DLQ_DATABASE_POOL_MAX,
      timeoutMs: dlq.DLQ_DATABASE_TIMEOUT_MS,
      retentionDays: dlq.DLQ_RETENTION_DAYS,
    });
  }
  return Object.freeze({ kind, file: dlq.DLQ_FILE });
}

// Replay (the dead-letter console and admin API, runtime/dlq/replay-*.ts): where a replay may send to, and how
// fast a bulk job sends when the caller gives no rate.
export interface DlqReplayConfig {
  /** to=<url> is allowed only for these (normalised with new URL().href); to=destination and to=broker always. */
  readonly targets: readonly string[];
  /** Events per second of a bulk replay job that does not ask for a rate. */
  readonly defaultRate: number;
  /** The highest rate a job may ask for. */
  readonly maxRate: number;
}

function replayTargetList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function allHttpUrls(value: string): boolean {
  return replayTargetList(value).every((part) => {
    try {
      const url = new URL(part);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  });
}

export const dlqReplayEntries = {
  DLQ_REPLAY_TARGETS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(allHttpUrls, 'expected a comma-separated list of http(s) URLs that a replay may be sent to (to=<url>)'),
    ),
  ),
  DLQ_REPLAY_RATE: integer(1, 10_000, 50),
  DLQ_REPLAY_RATE_MAX: integer(1, 10_000, 500),
};

type ParsedReplay = v.InferOutput<v.ObjectSchema<typeof dlqReplayEntries, undefined>>;

export function dlqReplayConfig(parsed: ParsedReplay, problems: string[]): DlqReplayConfig {
  if (parsed.DLQ_REPLAY_RATE > parsed.DLQ_REPLAY_RATE_MAX) {
    problems.push(
      `DLQ_REPLAY_RATE: ${parsed.DLQ_REPLAY_RATE} is above DLQ_REPLAY_RATE_MAX (${parsed.DLQ_REPLAY_RATE_MAX}); lower it or raise the maximum`,
    );
  }
  const targets =
    parsed.DLQ_REPLAY_TARGETS === undefined
      ? []
      : replayTargetList(parsed.DLQ_REPLAY_TARGETS).map((url) => new URL(url).href);
  return Object.freeze({
    targets: Object.freeze([...new Set(targets)]),
    defaultRate: parsed.DLQ_REPLAY_RATE,
    maxRate: parsed.DLQ_REPLAY_RATE_MAX,
  });
}
