// The environment, parsed and validated once at start-up into a frozen, typed config.
// Every problem is reported at once, each naming the variable and what it expects, so a
// misconfigured Knative Service fails on its first start with a message a person can act on.
import * as v from 'valibot';
import { functionNames } from '../functions/index.js';

export const roles = ['handler', 'subscriber', 'sink-forwarder', 'dlq'] as const;
export type Role = (typeof roles)[number];
export type ContentMode = 'binary' | 'structured';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export const httpUrl = (what: string) =>
  v.pipe(
    v.string(`is required: ${what}, an http(s) URL`),
    v.trim(),
    v.check(isHttpUrl, `expected ${what}, an http(s) URL such as http://kafka-broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<broker>`),
  );

export const integer = (min: number, max: number, fallback: number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^\d+$/, expected), v.transform(Number), v.minValue(min, expected), v.maxValue(max, expected)),
    String(fallback),
  );
};

export const oneOf = <const T extends readonly string[]>(values: T, fallback: T[number]) =>
  v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(values, `expected one of ${values.join(', ')}`)), fallback);

const functionName = v.pipe(
  v.string(`is required for this role: one of ${functionNames.join(', ')}`),
  v.trim(),
  v.check((name) => (functionNames as readonly string[]).includes(name), `expected a function under functions/: one of ${functionNames.join(', ')}`),
);

const commonSchema = v.object({
  ROLE: v.pipe(v.string(`is required: one of ${roles.join(', ')}`), v.trim(), v.picklist(roles, `expected one of ${roles.join(', ')}`)),
  PORT: integer(1, 65535, 8080),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
  MAX_BODY_BYTES: integer(1, 100 * 1024 * 1024, 1024 * 1024),
  SHUTDOWN_TIMEOUT_SECONDS: integer(0, 3600, 30),
  OUTBOUND_TIMEOUT_MS: integer(1, 600_000, 5000),
  OUTBOUND_RETRIES: integer(0, 20, 3),
  OUTBOUND_BACKOFF_MS: integer(0, 60_000, 100),
  OUTBOUND_BACKOFF_MAX_MS: integer(0, 600_000, 2000),
  K_SERVICE: v.optional(v.string()),
  K_REVISION: v.optional(v.string()),
});

const metricsSchema = v.object({
  METRICS_ENABLED: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(['true', 'false'], 'expected true or false'), v.transform((x) => x === 'true')), 'true'),
  METRICS_PATH: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^\/[A-Za-z0-9._~/-]*$/, 'expected a path starting with /')), '/metrics'),
  METRICS_TOKEN: v.optional(v.string()),
  /** Event types that get their own label value; every other type is counted as "other". */
  METRICS_EVENT_TYPES: v.optional(v.pipe(v.string(), v.transform((x) => x.split(',').map((t) => t.trim()).filter(Boolean))), ''),
});

const handlerSchema = v.object({
  BROKER_URL: httpUrl('the Knative Broker ingress URL'),
  BROKER_CONTENT_MODE: oneOf(['structured', 'binary'] as const, 'structured'),
});

const functionSchema = {
  FUNCTION: functionName,
  FUNCTION_TIMEOUT_MS: integer(1, 3_600_000, 60_000),
};

const subscriberSchema = v.object(functionSchema);

const sinkSchema = {
  KAFKA_SINK_URL: httpUrl('the KafkaSink ingress URL, e.g. http://kafka-sink-ingress.knative-eventing.svc.cluster.local/<namespace>/<sink>'),
  SINK_CONTENT_MODE: oneOf(['binary', 'structured'] as const, 'binary'),
};

const sinkForwarderSchema = v.object({
  ...functionSchema,
  ...sinkSchema,
  SINK_EVENT_TYPE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  SINK_EVENT_SOURCE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  /** Where the Kafka record key comes from: an attribute of the incoming event (`subject`) or `data.<path>`. */
  SINK_PARTITION_KEY: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^(data(\.[A-Za-z0-9_-]+)+|[a-z0-9]{1,20})$/, 'expected an attribute name (e.g. subject) or data.<field>[.<field>...]'))),
});

const dlqSchema = v.object({
  DLQ_STORE: oneOf(['file', 'kafka-sink'] as const, 'file'),
  DLQ_FILE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), 'dead-letters.jsonl'),
  KAFKA_SINK_URL: v.optional(sinkSchema.KAFKA_SINK_URL),
  SINK_CONTENT_MODE: sinkSchema.SINK_CONTENT_MODE,
  DLQ_ADMIN_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, 'expected at least 16 characters (a token that can be guessed protects nothing)'))),
  /** Where a replay sends an event (normally the broker); replay is off without it. */
  BROKER_URL: v.optional(httpUrl('the Knative Broker ingress URL to replay dead letters to')),
});

export interface OutboundConfig {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  readonly path: string;
  readonly token: string | undefined;
  readonly eventTypes: readonly string[];
}

interface CommonConfig {
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly maxBodyBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly outbound: OutboundConfig;
  readonly metrics: MetricsConfig;
  /** Knative's K_SERVICE / K_REVISION when deployed; the role name when run elsewhere. */
  readonly service: string;
  readonly revision: string | undefined;
}

export interface HandlerConfig extends CommonConfig {
  readonly role: 'handler';
  readonly brokerUrl: string;
  readonly brokerContentMode: ContentMode;
}

export interface SubscriberConfig extends CommonConfig {
  readonly role: 'subscriber';
  readonly functionName: string;
  readonly functionTimeoutMs: number;
}

export interface SinkTarget {
  readonly url: string;
  readonly contentMode: ContentMode;
}

export interface SinkForwarderConfig extends CommonConfig {
  readonly role: 'sink-forwarder';
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  readonly sink: SinkTarget;
  readonly eventType: string | undefined;
  readonly eventSource: string | undefined;
  readonly partitionKey: string | undefined;
}

export interface DlqConfig extends CommonConfig {
  readonly role: 'dlq';
  readonly store: { readonly kind: 'file'; readonly file: string } | { readonly kind: 'kafka-sink'; readonly sink: SinkTarget };
  readonly adminToken: string | undefined;
  readonly replayUrl: string | undefined;
}

export type RuntimeConfig = HandlerConfig | SubscriberConfig | SinkForwarderConfig | DlqConfig;

type Env = Readonly<Record<string, string | undefined>>;

/** What to tell someone who left a required variable out. */
const requiredHints: Record<string, string> = {
  ROLE: `one of ${roles.join(', ')}`,
  BROKER_URL: 'the Knative Broker ingress URL, e.g. http://kafka-broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<broker>',
  FUNCTION: `the function to run, one of ${functionNames.join(', ')}`,
  KAFKA_SINK_URL: 'the KafkaSink ingress URL, e.g. http://kafka-sink-ingress.knative-eventing.svc.cluster.local/<namespace>/<sink>',
};

function problemsOf(issues: readonly v.BaseIssue<unknown>[], env: Env): string[] {
  return issues.map((issue) => {
    const name = String(issue.path?.[0]?.key ?? '');
    const raw = env[name];
    if (raw === undefined) return `${name}: is required${requiredHints[name] ? `: ${requiredHints[name]}` : ''}`;
    const got = raw === undefined ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
    return `${name}: ${issue.message}${got}`;
  });
}

/** Empty strings count as unset: Helm and shells often render a missing value as "". */
function withoutEmpty(env: Env): Env {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') out[key] = value;
  return out;
}

/** Parses one schema, collecting its problems instead of throwing. */
function section<S extends v.GenericSchema>(schema: S, env: Env, problems: string[]): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  problems.push(...problemsOf(result.issues, env));
  return undefined;
}

export function parseConfig(rawEnv: Env): RuntimeConfig {
  const env = withoutEmpty(rawEnv);
  const problems: string[] = [];
  const c = section(commonSchema, env, problems);
  const role = c?.ROLE;
  const handler = role === 'handler' ? section(handlerSchema, env, problems) : undefined;
  const subscriber = role === 'subscriber' ? section(subscriberSchema, env, problems) : undefined;
  const forwarder = role === 'sink-forwarder' ? section(sinkForwarderSchema, env, problems) : undefined;
  const dlq = role === 'dlq' ? section(dlqSchema, env, problems) : undefined;
  const metrics = section(metricsSchema, env, problems);
  if (dlq && dlq.DLQ_STORE === 'kafka-sink' && !dlq.KAFKA_SINK_URL) {
    problems.push('KAFKA_SINK_URL: is required when DLQ_STORE is kafka-sink: the KafkaSink ingress URL of the dead-letter topic');
  }
  if (problems.length > 0 || !c || !role || !metrics) throw new ConfigError(problems);

  const base: CommonConfig = {
    port: c.PORT,
    logLevel: c.LOG_LEVEL,
    maxBodyBytes: c.MAX_BODY_BYTES,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    outbound: Object.freeze({
      timeoutMs: c.OUTBOUND_TIMEOUT_MS,
      retries: c.OUTBOUND_RETRIES,
      backoffMs: c.OUTBOUND_BACKOFF_MS,
      backoffMaxMs: Math.max(c.OUTBOUND_BACKOFF_MAX_MS, c.OUTBOUND_BACKOFF_MS),
    }),
    metrics: Object.freeze({ enabled: metrics.METRICS_ENABLED, path: metrics.METRICS_PATH, token: metrics.METRICS_TOKEN, eventTypes: Object.freeze(metrics.METRICS_EVENT_TYPES) }),
    service: c.K_SERVICE ?? role,
    revision: c.K_REVISION,
  };
  if (handler) return Object.freeze({ ...base, role: 'handler', brokerUrl: handler.BROKER_URL, brokerContentMode: handler.BROKER_CONTENT_MODE });
  if (subscriber) return Object.freeze({ ...base, role: 'subscriber', functionName: subscriber.FUNCTION, functionTimeoutMs: subscriber.FUNCTION_TIMEOUT_MS });
  if (forwarder) {
    return Object.freeze({
      ...base,
      role: 'sink-forwarder',
      functionName: forwarder.FUNCTION,
      functionTimeoutMs: forwarder.FUNCTION_TIMEOUT_MS,
      sink: Object.freeze({ url: forwarder.KAFKA_SINK_URL, contentMode: forwarder.SINK_CONTENT_MODE }),
      eventType: forwarder.SINK_EVENT_TYPE,
      eventSource: forwarder.SINK_EVENT_SOURCE,
      partitionKey: forwarder.SINK_PARTITION_KEY,
    });
  }
  if (dlq) {
    const store =
      dlq.DLQ_STORE === 'kafka-sink' && dlq.KAFKA_SINK_URL
        ? ({ kind: 'kafka-sink', sink: Object.freeze({ url: dlq.KAFKA_SINK_URL, contentMode: dlq.SINK_CONTENT_MODE }) } as const)
        : ({ kind: 'file', file: dlq.DLQ_FILE } as const);
    return Object.freeze({ ...base, role: 'dlq', store: Object.freeze(store), adminToken: dlq.DLQ_ADMIN_TOKEN, replayUrl: dlq.BROKER_URL });
  }
  throw new ConfigError([`ROLE: "${role}" has no configuration section`]);
}
