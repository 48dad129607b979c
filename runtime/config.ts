// The environment, parsed and validated once at start-up into a frozen, typed config.
// Every problem is reported at once, each naming the variable and what it expects, so a
// misconfigured Knative Service fails on its first start with a message a person can act on.
import * as v from 'valibot';
import {
  boolean,
  ConfigError,
  httpUrl,
  integer,
  oneOf,
  optionalInteger,
  section as parseSection,
  withoutEmpty,
  type Env,
} from './config/fields.js';
import { vaultSection, type VaultConfig } from './config/vault.js';
import {
  dlqReplayConfig,
  dlqReplayEntries,
  dlqStoreConfig,
  dlqStoreEntries,
  hideDatabaseUrl,
  type DlqReplayConfig,
  type DlqStoreConfig,
} from './config/dlq.js';
import type { Secrets } from './function-api.js';
import { resolveSecretReferences } from './secrets/references.js';

export { ConfigError } from './config/fields.js';
export { defaultAgentSecretsDir, defaultServiceAccountTokenPath, type VaultConfig } from './config/vault.js';
export type { DlqReplayConfig, DlqStoreConfig, PostgresStoreConfig } from './config/dlq.js';

export const roles = ['handler', 'subscriber', 'sink-forwarder', 'dlq'] as const;
export type Role = (typeof roles)[number];
export type ContentMode = 'binary' | 'structured';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** FUNCTION names one of the build's functions (runtime/function-registry.ts); without the list, any name. */
const functionName = (names: readonly string[] | undefined) =>
  v.pipe(
    v.string(names ? `is required for this role: one of ${names.join(', ')}` : 'is required for this role'),
    v.trim(),
    v.check(
      (name) => names === undefined || names.includes(name),
      `expected a function under functions/: one of ${names?.join(', ')}`,
    ),
  );

const commonSchema = v.object({
  ROLE: v.pipe(
    v.string(`is required: one of ${roles.join(', ')}`),
    v.trim(),
    v.picklist(roles, `expected one of ${roles.join(', ')}`),
  ),
  PORT: integer(1, 65535, 8080),
  /** A second listener for /healthz and /readyz only (runtime/probe-server.ts); unset: probes go to PORT alone. */
  PROBE_PORT: optionalInteger(1, 65535),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
  MAX_BODY_BYTES: integer(1, 100 * 1024 * 1024, 1024 * 1024),
  SHUTDOWN_TIMEOUT_SECONDS: integer(0, 3600, 30),
  OUTBOUND_TIMEOUT_MS: integer(1, 600_000, 5000),
  OUTBOUND_RETRIES: integer(0, 20, 3),
  OUTBOUND_BACKOFF_MS: integer(0, 60_000, 100),
  OUTBOUND_BACKOFF_MAX_MS: integer(0, 600_000, 2000),
  /** All attempts of one outbound call and the waits between them end within this. */
  OUTBOUND_DEADLINE_MS: integer(1, 3_600_000, 25_000),
  /** Bytes request bodies may hold at once (runtime/http/memory-budget.ts); `auto`: from the container's memory limit. */
  MEMORY_BUDGET_BYTES: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.regex(/^(auto|\d+)$/, 'expected auto or a number of bytes from 1048576 (1 MiB)'),
      v.transform((x) => (x === 'auto' ? undefined : Number(x))),
      v.check((x) => x === undefined || x >= 1024 * 1024, 'expected auto or a number of bytes from 1048576 (1 MiB)'),
    ),
    'auto',
  ),
  K_SERVICE: v.optional(v.string()),
  K_REVISION: v.optional(v.string()),
});

const metricsSchema = v.object({
  METRICS_ENABLED: boolean('true'),
  METRICS_PATH: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^\/[A-Za-z0-9._~/-]*$/, 'expected a path starting with /')),
    '/metrics',
  ),
  METRICS_TOKEN: v.optional(v.string()),
  /** Event types that get their own label value; every other type is counted as "other". */
  METRICS_EVENT_TYPES: v.optional(
    v.pipe(
      v.string(),
      v.transform((x) =>
        x
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      ),
    ),
    '',
  ),
});

const handlerSchema = v.object({
  BROKER_URL: httpUrl('the Knative Broker ingress URL'),
  BROKER_CONTENT_MODE: oneOf(['structured', 'binary'] as const, 'structured'),
  HANDLER_AUTH: oneOf(['off', 'bearer', 'hmac'] as const, 'off'),
  /** The secret (Vault) whose value lists the valid caller keys, comma-separated: several at once for rotation. */
  HANDLER_AUTH_SECRET: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a secret name (letters, digits, _)')),
    'HANDLER_AUTH_KEYS',
  ),
  HANDLER_AUTH_WINDOW_SECONDS: integer(1, 3600, 300),
  /** How far a signature's timestamp may be ahead of our clock (clock skew), in seconds. */
  HANDLER_AUTH_FUTURE_SKEW_SECONDS: integer(0, 300, 5),
  /** Signatures remembered within the window (replay protection); when full, new requests get 503. */
  HANDLER_AUTH_REPLAY_CAPACITY: integer(1000, 10_000_000, 200_000),
});

const functionSchema = (names: readonly string[] | undefined) => ({
  FUNCTION: functionName(names),
  FUNCTION_TIMEOUT_MS: integer(1, 3_600_000, 60_000),
});

const subscriberSchema = (names: readonly string[] | undefined) =>
  v.object({
    ...functionSchema(names),
    /**
     * What a plain (non-event) result becomes: `json` answers 200 with it; `discard` answers 204. Knative's Kafka
     * broker treats a 2xx with a body that is not a CloudEvent as a failed delivery, so the chart sets `discard`
     * for subscribers behind a Kafka-class broker.
     */
    SUBSCRIBER_PLAIN_RESULT: oneOf(['json', 'discard'] as const, 'json'),
  });

const sinkSchema = {
  KAFKA_SINK_URL: httpUrl(
    'the KafkaSink ingress URL, e.g. http://kafka-sink-ingress.knative-eventing.svc.cluster.local/<namespace>/<sink>',
  ),
  SINK_CONTENT_MODE: oneOf(['binary', 'structured'] as const, 'binary'),
};

const sinkForwarderSchema = (names: readonly string[] | undefined) =>
  v.object({
    ...functionSchema(names),
    ...sinkSchema,
    SINK_EVENT_TYPE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
    SINK_EVENT_SOURCE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
    /** Where the Kafka record key comes from: an attribute of the incoming event (`subject`) or `data.<path>`. */
    SINK_PARTITION_KEY: v.optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.regex(
          /^(data(\.[A-Za-z0-9_-]+)+|[a-z0-9]{1,20})$/,
          'expected an attribute name (e.g. subject) or data.<field>[.<field>...]',
        ),
      ),
    ),
  });

const dlqSchema = v.object({
  ...dlqStoreEntries,
  ...dlqReplayEntries,
  DLQ_ADMIN_TOKEN: v.optional(
    v.pipe(
      v.string(),
      v.minLength(16, 'expected at least 16 characters (a token that can be guessed protects nothing)'),
    ),
  ),
  /** Where a replay sends an event (normally the broker); replay is off without it. */
  BROKER_URL: v.optional(httpUrl('the Knative Broker ingress URL to replay dead letters to')),
});

export interface OutboundConfig {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  /** Every attempt and wait of one call ends within this (OUTBOUND_DEADLINE_MS); unset: no overall deadline. */
  readonly deadlineMs?: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  readonly path: string;
  readonly token: string | undefined;
  readonly eventTypes: readonly string[];
}

interface CommonConfig {
  readonly port: number;
  /** PROBE_PORT: where /healthz and /readyz are also served, on a listener of their own; undefined: PORT only. */
  readonly probePort: number | undefined;
  readonly logLevel: LogLevel;
  readonly maxBodyBytes: number;
  /** MEMORY_BUDGET_BYTES; undefined: derived from the container's memory limit at start-up (assemble.ts). */
  readonly memoryBudgetBytes: number | undefined;
  readonly shutdownTimeoutMs: number;
  readonly outbound: OutboundConfig;
  readonly metrics: MetricsConfig;
  /** Knative's K_SERVICE / K_REVISION when deployed; the role name when run elsewhere. */
  readonly service: string;
  readonly revision: string | undefined;
  readonly vault: VaultConfig;
}

export interface HandlerConfig extends CommonConfig {
  readonly role: 'handler';
  readonly brokerUrl: string;
  readonly brokerContentMode: ContentMode;
  readonly callerAuth: CallerAuthConfig;
}

/** How the handler checks its callers: off, a bearer token, or an HMAC signature over the canonical request. */
export type CallerAuthConfig =
  | { readonly mode: 'off' }
  | { readonly mode: 'bearer'; readonly secretName: string }
  | {
      readonly mode: 'hmac';
      readonly secretName: string;
      readonly windowMs: number;
      readonly futureSkewMs: number;
      readonly replayCapacity: number;
    };

export interface SubscriberConfig extends CommonConfig {
  readonly role: 'subscriber';
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  readonly plainResult: 'json' | 'discard';
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
  readonly store: DlqStoreConfig;
  readonly adminToken: string | undefined;
  readonly replayUrl: string | undefined;
  readonly replay: DlqReplayConfig;
}

export type RuntimeConfig = HandlerConfig | SubscriberConfig | SinkForwarderConfig | DlqConfig;

/** What to tell someone who left a required variable out. */
const requiredHints = (functionNames: readonly string[] | undefined): Record<string, string> => ({
  ROLE: `one of ${roles.join(', ')}`,
  BROKER_URL:
    'the Knative Broker ingress URL, e.g. http://kafka-broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<broker>',
  FUNCTION: functionNames ? `the function to run, one of ${functionNames.join(', ')}` : 'the function to run',
  KAFKA_SINK_URL:
    'the KafkaSink ingress URL, e.g. http://kafka-sink-ingress.knative-eventing.svc.cluster.local/<namespace>/<sink>',
});

const section = <S extends v.GenericSchema>(
  schema: S,
  env: Env,
  problems: string[],
  shown: Env = env,
  functionNames?: readonly string[],
) => parseSection(schema, env, problems, { shown, hints: requiredHints(functionNames) });

/**
 * `secrets` resolves values written as `secret:NAME` or `${secret:NAME}` (see runtime/secrets/references.ts);
 * problems quote the reference, never the secret's value. `functionNames`: the names FUNCTION may take (main.ts
 * passes the build's registry, runtime/function-registry.ts); without them any name passes here, and an unknown
 * one fails when the role loads it.
 */
/** One port cannot be listened on twice: PROBE_PORT equal to PORT would fail at start-up with EADDRINUSE. */
function probePortProblems(c: { readonly PORT: number; readonly PROBE_PORT?: number | undefined }): string[] {
  if (c.PROBE_PORT !== c.PORT) return [];
  return [`PROBE_PORT: must differ from PORT (both ${c.PORT}): the probes get a listener of their own, or unset it`];
}

export function parseConfig(rawEnv: Env, secrets?: Secrets, functionNames?: readonly string[]): RuntimeConfig {
  const refs = resolveSecretReferences(rawEnv, secrets);
  const env = withoutEmpty(refs.env);
  const shown = withoutEmpty(rawEnv);
  const problems: string[] = [];
  const c = section(commonSchema, env, problems, shown);
  if (c) problems.push(...probePortProblems(c));
  // The role decides which other variables are checked, even when an unrelated common one is wrong.
  const roleResult = v.safeParse(commonSchema.entries.ROLE, env.ROLE);
  const role = roleResult.success ? roleResult.output : undefined;
  const handler = role === 'handler' ? section(handlerSchema, env, problems, shown) : undefined;
  const subscriber =
    role === 'subscriber' ? section(subscriberSchema(functionNames), env, problems, shown, functionNames) : undefined;
  const forwarder =
    role === 'sink-forwarder'
      ? section(sinkForwarderSchema(functionNames), env, problems, shown, functionNames)
      : undefined;
  const dlq = role === 'dlq' ? section(dlqSchema, env, problems, hideDatabaseUrl(shown)) : undefined;
  const metrics = section(metricsSchema, env, problems, shown);
  const dlqStore = dlq ? dlqStoreConfig(dlq, problems) : undefined;
  const dlqReplay = dlq ? dlqReplayConfig(dlq, problems) : undefined;
  const vault = vaultSection(env, problems);
  // A reference that did not resolve is reported once, by the reference's own problem.
  problems.splice(
    0,
    problems.length,
    ...refs.problems,
    ...problems.filter((p) => !refs.unresolved.has(p.slice(0, p.indexOf(':')))),
  );
  if (problems.length > 0 || !c || !role || !metrics || !vault) throw new ConfigError(problems);

  const base = commonConfig(c, metrics, role, vault);
  if (handler) return handlerConfig(base, handler);
  if (subscriber) return subscriberConfig(base, subscriber);
  if (forwarder) return sinkForwarderConfig(base, forwarder);
  if (dlq && dlqStore && dlqReplay) return dlqConfig(base, dlq, dlqStore, dlqReplay);
  throw new ConfigError([`ROLE: "${role}" has no configuration section`]);
}

function commonConfig(
  c: v.InferOutput<typeof commonSchema>,
  metrics: v.InferOutput<typeof metricsSchema>,
  role: Role,
  vault: VaultConfig,
): CommonConfig {
  return {
    port: c.PORT,
    probePort: c.PROBE_PORT,
    logLevel: c.LOG_LEVEL,
    maxBodyBytes: c.MAX_BODY_BYTES,
    memoryBudgetBytes: c.MEMORY_BUDGET_BYTES,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    outbound: Object.freeze({
      timeoutMs: c.OUTBOUND_TIMEOUT_MS,
      retries: c.OUTBOUND_RETRIES,
      backoffMs: c.OUTBOUND_BACKOFF_MS,
      backoffMaxMs: Math.max(c.OUTBOUND_BACKOFF_MAX_MS, c.OUTBOUND_BACKOFF_MS),
      deadlineMs: c.OUTBOUND_DEADLINE_MS,
    }),
    metrics: Object.freeze({
      enabled: metrics.METRICS_ENABLED,
      path: metrics.METRICS_PATH,
      token: metrics.METRICS_TOKEN,
      eventTypes: Object.freeze(metrics.METRICS_EVENT_TYPES),
    }),
    service: c.K_SERVICE ?? role,
    revision: c.K_REVISION,
    vault,
  };
}

function callerAuthConfig(handler: v.InferOutput<typeof handlerSchema>): CallerAuthConfig {
  if (handler.HANDLER_AUTH === 'off') return Object.freeze({ mode: 'off' });
  if (handler.HANDLER_AUTH === 'bearer')
    return Object.freeze({ mode: 'bearer', secretName: handler.HANDLER_AUTH_SECRET });
  return Object.freeze({
    mode: 'hmac',
    secretName: handler.HANDLER_AUTH_SECRET,
    windowMs: handler.HANDLER_AUTH_WINDOW_SECONDS * 1000,
    futureSkewMs: handler.HANDLER_AUTH_FUTURE_SKEW_SECONDS * 1000,
    replayCapacity: handler.HANDLER_AUTH_REPLAY_CAPACITY,
  });
}

// One builder per role, from the common part and the role's own checked section.

function handlerConfig(base: CommonConfig, handler: v.InferOutput<typeof handlerSchema>): HandlerConfig {
  return Object.freeze({
    ...base,
    role: 'handler',
    brokerUrl: handler.BROKER_URL,
    brokerContentMode: handler.BROKER_CONTENT_MODE,
    callerAuth: callerAuthConfig(handler),
  });
}

function subscriberConfig(
  base: CommonConfig,
  subscriber: v.InferOutput<ReturnType<typeof subscriberSchema>>,
): SubscriberConfig {
  return Object.freeze({
    ...base,
    role: 'subscriber',
    functionName: subscriber.FUNCTION,
    functionTimeoutMs: subscriber.FUNCTION_TIMEOUT_MS,
    plainResult: subscriber.SUBSCRIBER_PLAIN_RESULT,
  });
}

function dlqConfig(
  base: CommonConfig,
  dlq: v.InferOutput<typeof dlqSchema>,
  store: DlqStoreConfig,
  replay: DlqReplayConfig,
): DlqConfig {
  return Object.freeze({
    ...base,
    role: 'dlq',
    store,
    adminToken: dlq.DLQ_ADMIN_TOKEN,
    replayUrl: dlq.BROKER_URL,
    replay,
  });
}

function sinkForwarderConfig(
  base: CommonConfig,
  forwarder: v.InferOutput<ReturnType<typeof sinkForwarderSchema>>,
): SinkForwarderConfig {
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

/** What main.ts needs before secrets exist: where to listen and log while loading them, and where they come from. */
export interface BootConfig {
  readonly port: number;
  readonly probePort: number | undefined;
  readonly logLevel: LogLevel;
  readonly logBase: {
    readonly service: string | undefined;
    readonly revision: string | undefined;
    readonly role: string | undefined;
  };
  readonly vault: VaultConfig;
}

/** PORT, PROBE_PORT, LOG_LEVEL and VAULT_* cannot themselves come from secrets: they are needed to load them. */
export function parseBootConfig(rawEnv: Env, functionNames?: readonly string[]): BootConfig {
  const env = withoutEmpty(rawEnv);
  const problems: string[] = [];
  const c = section(
    v.pick(commonSchema, ['PORT', 'PROBE_PORT', 'LOG_LEVEL', 'K_SERVICE', 'K_REVISION']),
    env,
    problems,
  );
  if (c) problems.push(...probePortProblems(c));
  const vault = vaultSection(env, problems);
  if (problems.length > 0 || !c || !vault) {
    // Report everything wrong at once, as parseConfig does; only secret references wait for the secrets.
    try {
      parseConfig(rawEnv, undefined, functionNames);
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConfigError(err.problems.filter((p) => !/^[^:]+: refers to secret /.test(p)));
    }
    throw new ConfigError(problems);
  }
  const role = env.ROLE?.trim();
  return Object.freeze({
    port: c.PORT,
    probePort: c.PROBE_PORT,
    logLevel: c.LOG_LEVEL,
    logBase: Object.freeze({ service: c.K_SERVICE ?? role, revision: c.K_REVISION, role }),
    vault,
  });
}
