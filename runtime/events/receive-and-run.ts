// The front half shared by the roles that run a function (subscriber, sink-forwarder): read the bounded
// body, parse and validate the CloudEvent, record it for logs and metrics, run the function on it.
import type Koa from 'koa';
import type { CloudEvent } from 'cloudevents';
import type { EventFunction } from '../function-api.js';
import { readBody } from '../http/body.js';
import type { RoleDeps } from '../roles/role.js';
import { invokeFunction } from './invoke.js';
import { parseEvent } from './parse.js';
import type { WireEvent } from './wire-event.js';

export interface FunctionRoleSettings {
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  readonly maxBodyBytes: number;
}

/** `wire`: the event as it came, so what the function passes on unchanged can go out byte for byte. */
export type ReceiveAndRun = (ctx: Koa.Context) => Promise<{ event: CloudEvent<unknown>; wire: WireEvent; result: unknown }>;

export function receiveAndRun(settings: FunctionRoleSettings, fn: EventFunction<unknown>, deps: RoleDeps): ReceiveAndRun {
  const parseOptions = { legacy: false, newId: deps.newId, now: deps.now };
  return async (ctx) => {
    const body = await readBody(ctx.req, settings.maxBodyBytes);
    const { event, wire } = parseEvent(ctx.req.headers, body, parseOptions);
    ctx.state.event = event;
    const result = await invokeFunction(fn, event, {
      functionName: settings.functionName,
      timeoutMs: settings.functionTimeoutMs,
      log: deps.log,
      config: deps.env,
      secrets: deps.secrets,
      response: ctx.res,
      observer: deps.roleObserver,
    });
    return { event, wire, result };
  };
}
