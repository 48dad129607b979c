// The public ingress: turns an incoming request (CloudEvent or the legacy ce_ header form) into a CloudEvent
// and posts it to the Knative Broker. 202 only once the broker has answered 2xx. A pass-through: the data
// is never re-encoded (any content type, byte for byte) and the attributes go on as given; only a legacy
// request gets an id, time and specversion filled in.
import type { HandlerConfig } from '../config.js';
import { readBody } from '../http/body.js';
import { createCallerCheck } from '../http/caller-auth.js';
import { prevalidateJsonBody, validatedUnparsed } from '../events/json-validate.js';
import { readWireEvent } from '../events/parse.js';
import { createEventSender } from '../events/sender.js';
import type { WireEvent } from '../events/wire-event.js';
import type { RequestContext } from '../http/request-state.js';
import { sendTraced, startIncomingSpan, within } from '../tracing/hops.js';
import { noopTracing, nowMs } from '../tracing/index.js';
import type { RoleDeps, RoleInstance } from './role.js';

/** The answer once the broker accepted: written here as JSON text, so Koa looks up no content type per request. */
function answerForwarded(ctx: RequestContext, event: WireEvent): void {
  ctx.state.outcome = 'forwarded';
  const { response } = ctx; // not Koa's delegating ctx.status/ctx.set/ctx.body (see RequestContext)
  response.status = 202;
  response.set('Content-Type', 'application/json; charset=utf-8');
  response.body = JSON.stringify({ success: true, id: event.id, type: event.type, source: event.source });
}

/** The request as a WireEvent: the caller checked first (HMAC over the raw body), then the parse step. */
function eventReader(config: HandlerConfig, deps: RoleDeps) {
  const parseOptions = { legacy: true, newId: deps.newId, now: deps.now };
  const validatedOptions = { ...parseOptions, jsonValidated: true };
  const checkCaller = createCallerCheck(config.callerAuth, deps.secrets, deps.now);
  return async (ctx: RequestContext): Promise<WireEvent> => {
    const { headers } = ctx.req;
    const body = await readBody(ctx.req, config.maxBodyBytes, { jsonUnparsed: validatedUnparsed });
    checkCaller?.(ctx.req, body);
    // A large JSON body is checked in slices that yield to the loop (JSON.parse of 1 MiB blocked it for up to
    // 250 ms); the parse step then keeps its bytes unparsed: they are forwarded as they came. A small one is
    // parsed there, without a turn of the loop here.
    const jsonValidated = validatedUnparsed(headers, body.length) && (await prevalidateJsonBody(headers, body));
    return readWireEvent(headers, body, jsonValidated ? validatedOptions : parseOptions, ctx.req.rawHeaders);
  };
}

export function createHandlerRole(config: HandlerConfig, deps: RoleDeps): RoleInstance {
  const sender = createEventSender(
    { target: 'broker', url: config.brokerUrl, mode: config.brokerContentMode, outbound: config.outbound },
    deps,
  );
  const readEvent = eventReader(config, deps);
  const tracing = deps.tracing ?? noopTracing;
  const broker = { name: 'broker', url: config.brokerUrl };
  const receiveAttributes = {
    'messaging.operation.name': 'receive',
    'messaging.operation.type': 'receive',
    'http.request.method': 'POST',
    'http.route': '/',
  };
  const send = (event: WireEvent, headers: Record<string, string> | undefined) => sender.send(event, headers);

  return {
    routes: [
      {
        method: 'POST',
        path: '/',
        async handle(ctx) {
          const started = tracing.enabled ? nowMs() : undefined;
          const event = await readEvent(ctx);
          ctx.state.event = event;
          // receive (SERVER) → publish broker (PRODUCER): the event goes on with the publish span's context in
          // its traceparent extension and headers, whatever trace the caller sent (tracing/hops.ts).
          const span = startIncomingSpan(tracing, 'receive', {
            kind: 'server',
            headers: ctx.req.headers,
            event,
            startTime: started,
            attributes: receiveAttributes,
          });
          await within(
            span,
            true,
            () => sendTraced(tracing, span.context, broker, event, send),
            () => 202,
          );
          answerForwarded(ctx, event);
        },
      },
    ],
  };
}
