// The front half shared by the roles that run a function (subscriber, sink-forwarder): read the bounded
// body, parse and validate the CloudEvent, record it for logs and metrics, run the function on it.
import type { CloudEvent } from 'cloudevents';
import type { EventFunction } from '../function-api.js';
import { readBody } from '../http/body.js';
import type { RequestContext } from '../http/request-state.js';
import type { RoleDeps } from '../roles/role.js';
import { endWithOutcome, startIncomingSpan } from '../tracing/hops.js';
import { noopTracing, nowMs, type Span } from '../tracing/index.js';
import { invokeFunction } from './invoke.js';
import { parseEvent } from './parse.js';
import type { WireEvent } from './wire-event.js';

export interface FunctionRoleSettings {
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  readonly maxBodyBytes: number;
}

/**
 * `wire`: the event as it came, so what the function passes on unchanged can go out byte for byte. `span`: the
 * role's `process` span (CONSUMER), still open: the role adds its publishes under it and ends it
 * (tracing/hops.ts `within`). When the function fails, it is ended here with the error.
 */
export type ReceiveAndRun = (
  ctx: RequestContext,
) => Promise<{ event: CloudEvent<unknown>; wire: WireEvent; result: unknown; span: Span }>;

export function receiveAndRun(
  settings: FunctionRoleSettings,
  fn: EventFunction<unknown>,
  deps: RoleDeps,
): ReceiveAndRun {
  const parseOptions = { legacy: false, newId: deps.newId, now: deps.now };
  const tracing = deps.tracing ?? noopTracing;
  const processAttributes = {
    'messaging.operation.name': 'process',
    'messaging.operation.type': 'process',
    'http.request.method': 'POST',
    'http.route': '/',
  };
  const functionAttributes = {
    'faas.invoked_name': settings.functionName,
    'code.function.name': settings.functionName,
  };
  // Made once: a template per request is a string built for every event, spans or not.
  const processSpanName = `process ${settings.functionName}`;
  const functionSpanName = `function ${settings.functionName}`;
  return async (ctx) => {
    const started = tracing.enabled ? nowMs() : undefined;
    const body = await readBody(ctx.req, settings.maxBodyBytes);
    const { event, wire } = parseEvent(ctx.req.headers, body, parseOptions, ctx.req.rawHeaders);
    ctx.state.event = event;
    const span = startIncomingSpan(tracing, processSpanName, {
      kind: 'consumer',
      headers: ctx.req.headers,
      event: wire,
      startTime: started,
      attributes: processAttributes,
    });
    const functionSpan = tracing.startSpan(functionSpanName, {
      kind: 'internal',
      parent: span.context,
      attributes: functionAttributes,
    });
    let result: unknown;
    try {
      const returned = invokeFunction(fn, event, {
        functionName: settings.functionName,
        timeoutMs: settings.functionTimeoutMs,
        log: deps.log,
        config: deps.env,
        secrets: deps.secrets,
        response: ctx.res,
        observer: deps.roleObserver,
        span: functionSpan,
      });
      // A synchronous function's result is there already: no await (no extra turn of the microtask queue).
      result = returned instanceof Promise ? await returned : returned;
    } catch (err) {
      endWithOutcome(functionSpan, { error: err });
      endWithOutcome(span, { error: err });
      throw err;
    }
    functionSpan.end();
    return { event, wire, result, span };
  };
}
