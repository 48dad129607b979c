// Runs a user function on one event: builds its context, bounds its time, and maps what it throws to the
// error envelope (PermanentError → its 4xx, which Knative dead-letters at once; anything else → 500, retried).
import type { CloudEvent } from 'cloudevents';
import { HttpError } from '../http/errors.js';
import { PermanentError, type EventFunction, type Secrets } from '../function-api.js';
import type { Logger } from '../logger.js';
import type { RoleObserver } from '../roles/role.js';

export interface InvokeOptions {
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly config: Readonly<Record<string, string | undefined>>;
  readonly secrets: Secrets;
  /** Aborts when the caller goes away. */
  readonly callerSignal?: AbortSignal;
  readonly observer?: RoleObserver;
}

export async function invokeFunction(fn: EventFunction<unknown>, event: CloudEvent<unknown>, options: InvokeOptions): Promise<unknown> {
  const controller = new AbortController();
  const log = options.log.child({ function: options.functionName, eventId: event.id, eventType: event.type, eventSource: event.source });
  const onCallerGone = () => controller.abort(new Error('the caller closed the connection'));
  options.callerSignal?.addEventListener('abort', onCallerGone, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new HttpError(500, 'function_error', `function ${options.functionName} did not finish within ${options.timeoutMs} ms (FUNCTION_TIMEOUT_MS)`);
      controller.abort(error);
      reject(error);
    }, options.timeoutMs);
  });
  const started = performance.now();
  const ran = (outcome: 'ok' | 'error' | 'permanent') => options.observer?.functionRan?.(options.functionName, (performance.now() - started) / 1000, outcome);
  try {
    const context = { log, config: options.config, secrets: options.secrets, signal: controller.signal };
    const result = await Promise.race([Promise.resolve().then(() => fn(event, context)), timedOut]);
    ran('ok');
    return result;
  } catch (err) {
    ran(err instanceof PermanentError ? 'permanent' : 'error');
    if (err instanceof HttpError) throw err;
    if (err instanceof PermanentError) {
      log.warn({ err, status: err.status }, `function ${options.functionName} rejected the event permanently`);
      throw new HttpError(err.status, 'permanent_failure', err.message, { details: err.details, cause: err });
    }
    log.error({ err }, `function ${options.functionName} threw`);
    // The function's own message may carry internals: it goes to the log, not to the caller.
    throw new HttpError(500, 'function_error', `function ${options.functionName} failed; see the service log for event ${event.id}`, { cause: err });
  } finally {
    clearTimeout(timer);
    options.callerSignal?.removeEventListener('abort', onCallerGone);
  }
}
