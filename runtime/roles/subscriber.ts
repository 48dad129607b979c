// What a Trigger delivers to: validates the CloudEvent, runs FUNCTION on it, answers with its result
// (204, JSON, or a reply event that Knative publishes back into the broker).
import type { SubscriberConfig } from '../config.js';
import { readBody } from '../http/body.js';
import { parseCloudEvent } from '../events/parse.js';
import { invokeFunction } from '../events/invoke.js';
import { writeResult } from '../events/reply.js';
import type { RoleDeps, RoleInstance } from './role.js';

export async function createSubscriberRole(config: SubscriberConfig, deps: RoleDeps): Promise<RoleInstance> {
  const fn = (await deps.loadFunction(config.functionName)).default;
  const parseOptions = { legacy: false, requireJson: false, newId: deps.newId, now: deps.now };
  const replyDefaults = { source: `/knative-events/${config.service}`, newId: deps.newId, now: deps.now, plainResult: config.plainResult };

  return {
    routes: [
      {
        method: 'POST',
        path: '/',
        async handle(ctx) {
          const body = await readBody(ctx.req, config.maxBodyBytes);
          const event = parseCloudEvent(ctx.req.headers, body, parseOptions);
          ctx.state.event = event;
          const result = await invokeFunction(fn, event, {
            functionName: config.functionName,
            timeoutMs: config.functionTimeoutMs,
            log: deps.log,
            config: deps.env,
            secrets: deps.secrets,
            response: ctx.res,
            observer: deps.roleObserver,
          });
          writeResult(ctx, result, replyDefaults);
          ctx.state.outcome = ctx.state.reply ? 'replied' : 'processed';
        },
      },
    ],
  };
}
