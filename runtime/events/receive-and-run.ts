// The front half shared by the roles that run a function (subscriber, sink-forwarder): read the bounded
// body, parse and validate the CloudEvent, record it for logs and metrics, run the function on it.
import type Koa from 'koa';
import type { CloudEvent } from 'cloudevents';
import type { EventFunction } from '../function-api.js';
import { readBody } from '../http/body.js';
import type { RoleDeps } from '../roles/role.js';
import { invokeFunction } from './invoke.js';
import { parseCloudEvent } from './parse.js';

export interface FunctionRoleSettings {
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  readonly maxBodyBytes: number;
}

export type ReceiveAndRun = (ctx: Koa.Context) => Promise<{ event: CloudEvent<unknown>; result: unknown }>;

export function receiveAndRun(settings: FunctionRoleSettings, fn: EventFunction<unknown>, deps: RoleDeps): ReceiveAndRun {
  const parseOptions = { legacy: false, requireJson: false, newId: deps.newId, now: deps.now };
  return async (ctx) => {
    const body = await readBody(ctx.req, settings.maxBodyBytes);
    const event = parseCloudEvent(ctx.req.headers, body, parseOptions);
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
    return { event, result };
  };
}
