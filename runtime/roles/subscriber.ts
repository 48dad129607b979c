// What a Trigger delivers to: validates the CloudEvent, runs FUNCTION on it, answers with its result
// (204, JSON, or a reply event that Knative publishes back into the broker).
import type { SubscriberConfig } from '../config.js';
import { receiveAndRun } from '../events/receive-and-run.js';
import { writeResult } from '../events/reply.js';
import { traceReply, withinSync } from '../tracing/hops.js';
import { noopTracing } from '../tracing/index.js';
import type { RoleDeps, RoleInstance } from './role.js';

export async function createSubscriberRole(config: SubscriberConfig, deps: RoleDeps): Promise<RoleInstance> {
  const fn = (await deps.loadFunction(config.functionName)).default;
  const run = receiveAndRun(config, fn, deps);
  const replyDefaults = {
    source: `/knative-events/${config.service}`,
    newId: deps.newId,
    now: deps.now,
    plainResult: config.plainResult,
  };
  const tracing = deps.tracing ?? noopTracing;

  return {
    routes: [
      {
        method: 'POST',
        path: '/',
        async handle(ctx) {
          const { event, wire, result, span } = await run(ctx);
          withinSync(
            span,
            false,
            () => {
              writeResult(ctx, result, replyDefaults, { event, wire });
              // A reply is published into the broker by Knative: it goes on in this trace (tracing/hops.ts).
              if (ctx.state.reply)
                traceReply(tracing, span.context, ctx.state.reply, (name, value) => ctx.response.set(name, value));
            },
            () => ctx.response.status,
          );
          ctx.state.outcome = ctx.state.reply ? 'replied' : 'processed';
        },
      },
    ],
  };
}
