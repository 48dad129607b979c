// The standard OpenTelemetry environment variables (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
// and .../protocol/exporter/), parsed into one frozen config. Loaded only when tracing is on (index.ts). A
// wrong value stops the process with every problem at once, like the rest of the runtime's configuration,
// rather than the SDK habit of a warning and a silent default: a sampler typo should not lose every trace.
import { ConfigError } from '../config/fields.js';

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';
const samplers: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

export interface TracingConfig {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly exportTimeoutMs: number;
  readonly sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers (0..1). */
  readonly ratio: number;
  readonly resource: Readonly<Record<string, string>>;
  readonly batch: {
    readonly scheduleDelayMs: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
    readonly exportTimeoutMs: number;
  };
  readonly limits: {
    readonly attributeCount: number;
    readonly eventCount: number;
    readonly linkCount: number;
    readonly attributeValueLength: number;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, name: string): string | undefined => {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
};

/** `key1=value1,key2=value2`, keys and values percent-decoded (the W3C Baggage format the spec uses). */
function keyValues(raw: string | undefined, name: string, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    try {
      const key = decodeURIComponent(pair.slice(0, eq).trim());
      if (eq <= 0 || key === '') throw new Error('no key');
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // The value may be a credential: the problem names the variable, never quotes it.
      problems.push(`${name}: expected key=value pairs separated by commas (percent-encoded)`);
      return {};
    }
  }
  return out;
}

function wholeNumber(env: Env, name: string, min: number, max: number, fallback: number, problems: string[]): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    problems.push(`${name}: expected a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    return fallback;
  }
  return n;
}

function httpUrl(raw: string, name: string, problems: string[]): string | undefined {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // reported below
  }
  problems.push(
    `${name}: expected an http(s) URL such as http://otel-collector.observability:4318 (got ${JSON.stringify(raw)})`,
  );
  return undefined;
}

function tracesUrl(env: Env, problems: string[]): string | undefined {
  const signal = value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (signal !== undefined) return httpUrl(signal, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', problems);
  const base = value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base === undefined) return undefined;
  const url = httpUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT', problems);
  // The base endpoint gets the signal's path appended, after exactly one slash.
  return url === undefined ? undefined : `${url.replace(/\/+$/, '')}/v1/traces`;
}

export interface TracingDefaults {
  readonly service: string;
  readonly role: string;
  readonly revision?: string;
  readonly version?: string;
}

/** Where and how spans are sent: the URL, the protocol (only http/protobuf), headers and the request timeout. */
function exportSettings(env: Env, problems: string[]) {
  const url = tracesUrl(env, problems);
  if (url === undefined && problems.length === 0) problems.push('OTEL_EXPORTER_OTLP_ENDPOINT: is required for tracing');
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = value(env, name);
    if (protocol !== undefined && protocol !== 'http/protobuf')
      problems.push(`${name}: only http/protobuf is supported (got ${JSON.stringify(protocol)})`);
    if (protocol !== undefined) break;
  }
  const headers = {
    ...keyValues(value(env, 'OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', problems),
    ...keyValues(value(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', problems),
  };
  const generalTimeout = wholeNumber(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 1, 600_000, 10_000, problems);
  const exportTimeoutMs = wholeNumber(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 1, 600_000, generalTimeout, problems);
  return { url, headers: Object.freeze(headers), exportTimeoutMs };
}

function samplerSettings(env: Env, problems: string[]): { sampler: SamplerName; ratio: number } {
  const sampler = (value(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on') as SamplerName;
  if (!samplers.includes(sampler)) {
    const got = JSON.stringify(env.OTEL_TRACES_SAMPLER);
    problems.push(`OTEL_TRACES_SAMPLER: expected one of ${samplers.join(', ')} (got ${got})`);
  }
  const raw = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  const ratio = raw === undefined ? 1 : /^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw) ? Number(raw) : NaN;
  if (!(ratio >= 0 && ratio <= 1))
    problems.push(
      `OTEL_TRACES_SAMPLER_ARG: expected a sampling ratio from 0 to 1, e.g. 0.01 (got ${JSON.stringify(raw)})`,
    );
  return { sampler, ratio };
}

function batchSettings(env: Env, problems: string[]): TracingConfig['batch'] {
  const maxQueueSize = wholeNumber(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 1, 100_000, 2048, problems);
  const batchSize = wholeNumber(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, 100_000, 512, problems);
  return Object.freeze({
    scheduleDelayMs: wholeNumber(env, 'OTEL_BSP_SCHEDULE_DELAY', 0, 600_000, 5000, problems),
    maxQueueSize,
    // The spec: a batch larger than the queue is the queue.
    maxExportBatchSize: Math.min(maxQueueSize, batchSize),
    exportTimeoutMs: wholeNumber(env, 'OTEL_BSP_EXPORT_TIMEOUT', 1, 600_000, 30_000, problems),
  });
}

function spanLimits(env: Env, problems: string[]): TracingConfig['limits'] {
  return Object.freeze({
    attributeCount: wholeNumber(env, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 0, 10_000, 128, problems),
    eventCount: wholeNumber(env, 'OTEL_SPAN_EVENT_COUNT_LIMIT', 0, 10_000, 128, problems),
    linkCount: wholeNumber(env, 'OTEL_SPAN_LINK_COUNT_LIMIT', 0, 10_000, 128, problems),
    // The spec's default is no limit; ours keeps one span's worst case (and so the queue's) bounded.
    attributeValueLength: wholeNumber(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 1, 1_048_576, 4096, problems),
  });
}

/** OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES, which wins over K_SERVICE. */
function resourceOf(env: Env, defaults: TracingDefaults, problems: string[]): Readonly<Record<string, string>> {
  const resource: Record<string, string> = {
    'service.name': defaults.service,
    'service.namespace': 'knative-events',
    ...(defaults.version ? { 'service.version': defaults.version } : {}),
    ...(defaults.revision ? { 'service.instance.id': `${defaults.revision}/${process.pid}` } : {}),
    'knative_events.role': defaults.role,
    'telemetry.sdk.name': 'knative-events',
    'telemetry.sdk.language': 'nodejs',
    ...keyValues(value(env, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', problems),
  };
  const serviceName = value(env, 'OTEL_SERVICE_NAME');
  if (serviceName !== undefined) resource['service.name'] = serviceName;
  return Object.freeze(resource);
}

export function parseTracingConfig(env: Env, defaults: TracingDefaults): TracingConfig {
  const problems: string[] = [];
  const { url, headers, exportTimeoutMs } = exportSettings(env, problems);
  const { sampler, ratio } = samplerSettings(env, problems);
  const batch = batchSettings(env, problems);
  const limits = spanLimits(env, problems);
  const resource = resourceOf(env, defaults, problems);
  if (problems.length > 0 || url === undefined) throw new ConfigError(problems);
  return Object.freeze({ url, headers, exportTimeoutMs, sampler, ratio, resource, batch, limits });
}
