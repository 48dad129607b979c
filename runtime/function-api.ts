// What a user function sees: `export default async (event, context) => result`.
// Functions import only from this file, so its shape is the contract between the runtime and user code.
import { CloudEvent } from 'cloudevents';
import type { Logger } from './logger.js';
import type { FunctionSpan } from './tracing/index.js';

export { CloudEvent };
export type { FunctionSpan };

/** A span that records nothing: for a FunctionContext built by hand (a function's own unit tests). */
export const noSpan: FunctionSpan = Object.freeze({ setAttribute() {}, addEvent() {} });

/** Secrets by name, from the environment, Vault agent files or Vault itself (see secrets/). `get` returns undefined for a name that is not there. */
export interface Secrets {
  get(name: string): string | undefined;
}

export interface FunctionContext {
  /** A JSON logger whose lines carry the event's id, type and source. */
  readonly log: Logger;
  /** The environment the runtime was started with (Knative Service env). */
  readonly config: Readonly<Record<string, string | undefined>>;
  readonly secrets: Secrets;
  /** Aborted when the function's time is up or the caller went away. */
  readonly signal: AbortSignal;
  /**
   * The function's own span in the event's trace (a child of the role's `process` span): attributes and
   * events added here reach the OpenTelemetry collector. Records nothing while tracing is off.
   */
  readonly span: FunctionSpan;
}

/**
 * A function's result decides the answer: undefined → 204; a CloudEvent (or `reply(...)`) → the event,
 * in binary mode, which Knative publishes back into the broker; any other value → 200 with JSON.
 */
export type EventFunction<TData = unknown> = (event: CloudEvent<TData>, context: FunctionContext) => unknown;

export interface FunctionModule {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each function picks its own data type
  default: EventFunction<any>;
}

/** Statuses Knative retries (see Knative's delivery rules): a "permanent" failure must not use them. */
const retriedByKnative = new Set([404, 408, 409, 429]);

/**
 * Throw this for an event that can never succeed (e.g. a trade that cannot be mapped). The runtime answers
 * with its 4xx status, which Knative does not retry: the event goes straight to the dead-letter sink.
 */
export class PermanentError extends Error {
  readonly status: number;
  readonly details: readonly string[];
  constructor(message: string, options: { status?: number; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    const status = options.status ?? 422;
    if (!Number.isInteger(status) || status < 400 || status > 499 || retriedByKnative.has(status)) {
      throw new RangeError(
        `PermanentError status must be a 4xx that Knative does not retry (not 404, 408, 409, 429); got ${status}`,
      );
    }
    this.name = 'PermanentError';
    this.status = status;
    this.details = options.details ?? [];
  }
}

export interface ReplyAttributes<T> {
  type: string;
  source?: string;
  data?: T;
  subject?: string;
  datacontenttype?: string;
  [extension: string]: unknown;
}

const replyMarker = Symbol.for('knative-events.reply');

/** An event to send back as the reply. `source` defaults to the replying service. */
export function reply<T>(attributes: ReplyAttributes<T>): ReplyAttributes<T> {
  return Object.assign({ ...attributes }, { [replyMarker]: true });
}

export function isReply(value: unknown): value is ReplyAttributes<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[replyMarker] === true;
}
