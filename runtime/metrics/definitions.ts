// Every metric this project exports, on the registry passed in (one per process; tests make several).
// Conventions: one prefix, base units (seconds, bytes), counters end in _total, label names are fixed here.
import type { Outcome } from '../http/request-state.js';
import { Counter, Gauge, Histogram, type Registry } from './prom-client.js';

export const prefix = 'knative_events_';

/** Request and outbound latencies: Knative's own delivery timeouts are seconds, functions may take longer. */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const functionBuckets = [...latencyBuckets, 60, 300];

const eventLabels = ['role', 'function', 'event_type'] as const;
type EventLabel = (typeof eventLabels)[number];

export type { Outcome } from '../http/request-state.js';
export const outcomes: readonly Outcome[] = ['forwarded', 'replied', 'processed', 'stored'];

export interface MetricSet {
  readonly httpDuration: Histogram<'role' | 'route' | 'method' | 'status_class'>;
  readonly httpInFlight: Gauge;
  readonly received: Counter<EventLabel>;
  readonly handled: Readonly<Record<Outcome, Counter<EventLabel>>>;
  readonly rejected: Counter<EventLabel | 'reason'>;
  readonly failed: Counter<EventLabel | 'reason'>;
  readonly functionDuration: Histogram<'function' | 'outcome'>;
  readonly functionErrors: Counter<'function' | 'kind'>;
  readonly outboundDuration: Histogram<'target' | 'result'>;
  readonly outboundRetries: Counter<'target'>;
  readonly deadLetters: Counter<'destination' | 'code'>;
  readonly storeBytes: Gauge;
  readonly storeRecords: Gauge;
  readonly storeRecreated: Counter<'why'>;
  readonly buildInfo: Gauge<'version' | 'role' | 'function'>;
  readonly secretsOk: Gauge;
  readonly secretsFailures: Counter<'reason'>;
  readonly secretsChanges: Counter;
  readonly vaultDuration: Histogram<'operation' | 'result'>;
}

const outcomeHelp: Record<Outcome, string> = {
  forwarded: 'CloudEvents accepted by the broker or KafkaSink this role forwards to.',
  replied: 'CloudEvents whose function answered with a reply event (published back into the broker by Knative).',
  processed: 'CloudEvents whose function finished without a reply event.',
  stored: 'Dead-lettered CloudEvents written to the dead-letter store.',
};

type Registers = Registry[];

const counterOn =
  (registers: Registers) =>
  <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name: prefix + name, help, labelNames, registers });

/** Every request (duration, in flight) and every CloudEvent by what became of it. */
function httpAndEventMetrics(registers: Registers) {
  const counter = counterOn(registers);
  return {
    httpDuration: new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'Time from request to answer, by role, matched route, method and status class. Its _count is the request count.',
      labelNames: ['role', 'route', 'method', 'status_class'],
      buckets: latencyBuckets,
      registers,
    }),
    httpInFlight: new Gauge({
      name: `${prefix}http_requests_in_flight`,
      help: 'HTTP requests being answered right now.',
      registers,
    }),
    received: counter(
      'received_total',
      'CloudEvent deliveries received on the event route, valid or not (event_type "unknown" when unreadable).',
      eventLabels,
    ),
    handled: {
      forwarded: counter('forwarded_total', outcomeHelp.forwarded, eventLabels),
      replied: counter('replied_total', outcomeHelp.replied, eventLabels),
      processed: counter('processed_total', outcomeHelp.processed, eventLabels),
      stored: counter('stored_total', outcomeHelp.stored, eventLabels),
    },
    rejected: counter('rejected_total', 'Deliveries answered 4xx (not retried by Knative), by error type.', [
      ...eventLabels,
      'reason',
    ]),
    failed: counter('failed_total', 'Deliveries answered 5xx (retried by Knative), by error type.', [
      ...eventLabels,
      'reason',
    ]),
  };
}

/** The user function and the outbound calls to brokers and sinks. */
function functionAndOutboundMetrics(registers: Registers) {
  const counter = counterOn(registers);
  return {
    functionDuration: new Histogram({
      name: `${prefix}function_duration_seconds`,
      help: 'Time spent in the user function, by function and outcome (ok, error, permanent).',
      labelNames: ['function', 'outcome'],
      buckets: functionBuckets,
      registers,
    }),
    functionErrors: counter(
      'function_errors_total',
      'User function failures: kind "error" (retried) or "permanent" (dead-lettered).',
      ['function', 'kind'],
    ),
    outboundDuration: new Histogram({
      name: `${prefix}outbound_request_duration_seconds`,
      help: 'Duration of each outbound attempt to a broker or sink, by target and result (status class, timeout, network_error).',
      labelNames: ['target', 'result'],
      buckets: latencyBuckets,
      registers,
    }),
    outboundRetries: counter(
      'outbound_retries_total',
      'Outbound attempts repeated after a transient failure, by target.',
      ['target'],
    ),
  };
}

/** The dlq role's dead letters and store; `storeRegisters` is empty in the other roles (not exported there). */
function deadLetterMetrics(registers: Registers, storeRegisters: Registers) {
  const counter = counterOn(registers);
  return {
    deadLetters: counter(
      'dead_letters_stored_total',
      'Dead letters stored, by the destination that failed (host and path) and its HTTP status.',
      ['destination', 'code'],
    ),
    storeBytes: new Gauge({
      name: `${prefix}dead_letter_store_bytes`,
      help: 'Size of the dead-letter store after the last write.',
      registers: storeRegisters,
    }),
    storeRecords: new Gauge({
      name: `${prefix}dead_letter_store_records`,
      help: 'Dead letters in the store after the last write.',
      registers: storeRegisters,
    }),
    storeRecreated: new Counter({
      name: `${prefix}dead_letter_store_recreated_total`,
      help: 'Times the file store found its file deleted or replaced under it and wrote to a new one (why: deleted, replaced).',
      labelNames: ['why'],
      registers: storeRegisters,
    }),
  };
}

/** Which build this is, and the health of the secrets (Vault or agent files). */
function buildAndSecretsMetrics(registers: Registers) {
  const counter = counterOn(registers);
  return {
    buildInfo: new Gauge({
      name: `${prefix}build_info`,
      help: 'Always 1; labels say which build, role and function this process runs.',
      labelNames: ['version', 'role', 'function'],
      registers,
    }),
    secretsOk: new Gauge({
      name: `${prefix}secrets_last_refresh_ok`,
      help: '1 when the last load of the secrets (Vault or agent files) succeeded, 0 while the last good ones are kept.',
      registers,
    }),
    secretsFailures: counter(
      'secrets_refresh_failures_total',
      'Failed loads of the secrets, by reason (unreachable, timeout, sealed, denied, ...).',
      ['reason'],
    ),
    vaultDuration: new Histogram({
      name: `${prefix}vault_request_duration_seconds`,
      help: 'Duration of each call to Vault in direct mode (login, renew, lookup, read), by result (ok or a failure reason).',
      labelNames: ['operation', 'result'],
      buckets: latencyBuckets,
      registers,
    }),
    secretsChanges: new Counter({
      name: `${prefix}secrets_changes_total`,
      help: 'Loads of the secrets that changed at least one value (rotations).',
      registers,
    }),
  };
}

export function defineMetrics(registry: Registry, options: { deadLetterStore: boolean }): MetricSet {
  const registers = [registry];
  // Only the dlq role has a store; elsewhere the gauges exist (observers may call them) but are not exported.
  const storeRegisters: Registers = options.deadLetterStore ? registers : [];
  return {
    ...httpAndEventMetrics(registers),
    ...functionAndOutboundMetrics(registers),
    ...deadLetterMetrics(registers, storeRegisters),
    ...buildAndSecretsMetrics(registers),
  };
}
