// Runs a user function on one event: builds its context, bounds its time, and maps what it throws to the
// error envelope (PermanentError → its 4xx, which Knative dead-letters at once; anything else → 500, retried).
import type { CloudEvent } from 'cloudevents';
import type { ServerResponse } from 'node:http';
import { HttpError } from '../http/errors.js';
import {
  noSpan,
  PermanentError,
  type EventFunction,
  type FunctionContext,
  type FunctionSpan,
  type Secrets,
} from '../function-api.js';
import type { Logger } from '../logger.js';
import type { RoleObserver } from '../roles/role.js';

export interface InvokeOptions {
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly config: Readonly<Record<string, string | undefined>>;
  readonly secrets: Secrets;
  /** The caller's response: the function's signal aborts when its connection closes before the answer. */
  readonly response?: ServerResponse;
  readonly observer?: RoleObserver;
  /** The function's span (`context.span`); receive-and-run.ts starts it as a child of the role's span. */
  readonly span?: FunctionSpan;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null &&
  (typeof value === 'object' || typeof value === 'function') &&
  typeof (value as { then?: unknown }).then === 'function';

/**
 * The function's child logger, made only when something of it is used other than a disabled level: `echo` calls
 * `context.log.debug` on every event, and at LOG_LEVEL=info building the child for that (~1.5 µs, the bindings
 * serialised) was a cost with nothing written. A disabled level answers with the parent's own no-op; anything
 * else (an enabled level, `child`, `bindings`, `level`) reaches the real child, built then, once. A class, so
 * that its traps are shared methods: per event only the handler object is new, no closure.
 */
class ChildWhenUsed implements ProxyHandler<Logger> {
  private child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly event: CloudEvent<unknown>,
    private readonly functionName: string,
  ) {}

  private real(): Logger {
    return (this.child ??= this.parent.child(this.bindings()));
  }

  /**
   * The event's id, type and source, and the function's name unless the process logger carries `function`
   * already (main.ts binds it: a second one would write the key twice in one JSON line, which some log
   * pipelines reject). Read here, when the child is made: pino's bindings() parses the logger's JSON each time.
   */
  private bindings(): Record<string, unknown> {
    const { event } = this;
    const named = 'function' in this.parent.bindings() ? {} : { function: this.functionName };
    return { ...named, eventId: event.id, eventType: event.type, eventSource: event.source };
  }

  get(_: Logger, name: string | symbol): unknown {
    const { parent } = this;
    if (
      this.child === undefined &&
      typeof name === 'string' &&
      name in parent.levels.values &&
      !parent.isLevelEnabled(name)
    )
      return parent[name as 'debug'];
    const target = this.real();
    return Reflect.get(target, name, target) as unknown;
  }
  set(_: Logger, name: string | symbol, value: unknown): boolean {
    return Reflect.set(this.real(), name, value);
  }
  has(_: Logger, name: string | symbol): boolean {
    return Reflect.has(this.real(), name);
  }
  ownKeys(): ArrayLike<string | symbol> {
    return Reflect.ownKeys(this.real());
  }
  getOwnPropertyDescriptor(_: Logger, name: string | symbol): PropertyDescriptor | undefined {
    return Reflect.getOwnPropertyDescriptor(this.real(), name);
  }
  getPrototypeOf(): object | null {
    return Reflect.getPrototypeOf(this.real());
  }
}

/**
 * The function's context, built on demand: most functions never read `signal` (and many not `log`), and an
 * AbortController with its listeners costs ~4 µs a request, a child logger ~1 µs. Measured on the hot path
 * (bench/compare.mjs), so a getter that is never called costs nothing.
 */
class LazyContext implements FunctionContext {
  private controller: AbortController | undefined;
  private childLog: Logger | undefined;
  /** Set once the time is up; a signal made after that is born aborted. */
  timeoutError: HttpError | undefined;
  /** The response's 'close' listener, made with the signal (most functions never ask for one). */
  private onClose: (() => void) | undefined;

  /** When the function was called (performance.now()), for its duration. */
  private readonly started = performance.now();

  constructor(
    private readonly event: CloudEvent<unknown>,
    private readonly options: InvokeOptions,
    private readonly response: ServerResponse | undefined,
  ) {}

  get config() {
    return this.options.config;
  }

  get secrets() {
    return this.options.secrets;
  }

  get span(): FunctionSpan {
    return this.options.span ?? noSpan;
  }

  get log(): Logger {
    const { options } = this;
    return (this.childLog ??= new Proxy(options.log, new ChildWhenUsed(options.log, this.event, options.functionName)));
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    const response = this.response;
    if (this.timeoutError) controller.abort(this.timeoutError);
    else if (response && (response.destroyed || response.closed) && !response.writableFinished)
      controller.abort(new Error('the caller closed the connection'));
    else if (response) {
      this.onClose = () => {
        if (!response.writableFinished) controller.abort(new Error('the caller closed the connection'));
      };
      response.once('close', this.onClose);
    }
    return controller.signal;
  }

  /** Time is up: abort the signal if the function holds one. */
  timeUp(error: HttpError): void {
    this.timeoutError = error;
    this.controller?.abort(error);
  }

  /** The function is done: its duration and outcome to the observer, the signal's listener removed. */
  finished(outcome: 'ok' | 'error' | 'permanent'): void {
    const { options } = this;
    options.observer?.functionRan?.(options.functionName, (performance.now() - this.started) / 1000, outcome);
    if (this.onClose) this.response?.off('close', this.onClose);
  }

  /** The function threw or rejected: finished, and the failure mapped (failureOf) is thrown. */
  failed(err: unknown): never {
    this.finished(err instanceof PermanentError ? 'permanent' : 'error');
    throw failureOf(err, this, this.event, this.options);
  }
}

/** Waits for an asynchronous result with one timer; no Promise.race and no extra promise for the deadline. */
function withDeadline(pending: PromiseLike<unknown>, context: LazyContext, options: InvokeOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new HttpError(
        500,
        'function_error',
        `function ${options.functionName} did not finish within ${options.timeoutMs} ms (FUNCTION_TIMEOUT_MS)`,
      );
      context.timeUp(error);
      reject(error);
    }, options.timeoutMs);
    // The timer stops either way; whatever the function rejected with goes on unchanged (failureOf maps any
    // value, Error or not).
    const stopTimerThen =
      <T>(settle: (value: T) => void) =>
      (value: T): void => {
        clearTimeout(timer);
        settle(value);
      };
    pending.then(stopTimerThen(resolve), stopTimerThen(reject));
  });
}

/** What the function threw, logged and mapped to the answer: PermanentError → its 4xx, anything else → 500. */
function failureOf(err: unknown, context: LazyContext, event: CloudEvent<unknown>, options: InvokeOptions): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof PermanentError) {
    // Expected: the function said the event can never succeed. Info with its message, no stack: a stack
    // trace per bad event at WARN buries the real warnings.
    context.log.info(
      { status: err.status, error: err.message, details: err.details },
      `function ${options.functionName} rejected the event permanently`,
    );
    return new HttpError(err.status, 'permanent_failure', err.message, { details: err.details, cause: err });
  }
  context.log.error({ err }, `function ${options.functionName} threw`);
  // The function's own message may carry internals: it goes to the log, not to the caller.
  return new HttpError(
    500,
    'function_error',
    `function ${options.functionName} failed; see the service log for event ${event.id}`,
    { cause: err },
  );
}

/**
 * Runs the function. A synchronous result is returned as it is (no promise, no timer: it is already there); a
 * promise is raced against the deadline and the result is a promise. Throws (or rejects with) an HttpError.
 */
export function invokeFunction(
  fn: EventFunction<unknown>,
  event: CloudEvent<unknown>,
  options: InvokeOptions,
): unknown {
  const context = new LazyContext(event, options, options.response);
  let returned: unknown;
  try {
    returned = fn(event, context);
  } catch (err) {
    return context.failed(err);
  }
  if (!isThenable(returned)) {
    context.finished('ok');
    return returned;
  }
  return withDeadline(returned, context, options).then(
    (result) => {
      context.finished('ok');
      return result;
    },
    (err: unknown) => context.failed(err),
  );
}
