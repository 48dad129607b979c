// PingSources on their cron schedule (croner, 5 fields, in the source's timezone), sending what Knative's
// PingSource sends: type dev.knative.sources.ping, source /apis/v1/namespaces/<ns>/pingsources/<name>,
// time = the scheduled time, the spec's contentType and data (or dataBase64), ceOverrides extensions;
// binary mode. A send that fails is retried a few times (a local choice), then logged.
import { randomUUID } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import { Cron } from 'croner';
import { describeAttempt, sendWithRetries, type DeliveryDeps } from './delivery.js';
import { RunnerError } from './errors.js';
import type { ComponentLog } from './log.js';
import type { PingPlan } from './plan.js';

export const pingEventType = 'dev.knative.sources.ping';
const pingDelivery = {
  retry: 3,
  backoffPolicy: 'exponential',
  backoffDelayMs: 200,
  timeoutMs: 10_000,
  deadLetterUrl: undefined,
  format: 'binary',
} as const;

export function pingEvent(ping: PingPlan, scheduled: Date, newId: () => string = randomUUID): CloudEvent<unknown> {
  return new CloudEvent<unknown>(
    {
      specversion: '1.0',
      id: newId(),
      type: pingEventType,
      source: `/apis/v1/namespaces/${ping.namespace}/pingsources/${ping.name}`,
      time: scheduled.toISOString(),
      ...(ping.contentType !== undefined && ping.data !== undefined ? { datacontenttype: ping.contentType } : {}),
      ...(ping.data !== undefined ? { data: ping.data } : {}),
      ...ping.extensions,
    },
    true,
  );
}

/** Checks the schedule and timezone as the PingSource webhook would; throws a RunnerError naming the source. */
export function validatePing(ping: PingPlan): void {
  if (ping.schedule.trim().split(/\s+/).length !== 5)
    throw new RunnerError(
      `PingSource ${ping.name}: schedule ${JSON.stringify(ping.schedule)} must have 5 fields (minute hour day month weekday)`,
    );
  if (ping.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: ping.timezone });
    } catch {
      throw new RunnerError(
        `PingSource ${ping.name}: timezone ${JSON.stringify(ping.timezone)} is not an IANA time zone such as Europe/Berlin`,
      );
    }
  }
  try {
    new Cron(ping.schedule, { mode: '5-part', timezone: ping.timezone, paused: true }).stop();
  } catch (err) {
    throw new RunnerError(
      `PingSource ${ping.name}: schedule ${JSON.stringify(ping.schedule)} is not valid cron (${(err as Error).message})`,
    );
  }
}

export interface PingScheduler {
  nextRuns(): ReadonlyArray<{ name: string; next: Date | null }>;
  stop(): void;
}

export function startPings(
  pings: readonly PingPlan[],
  deps: Omit<DeliveryDeps, 'onRetry'> & { log: ComponentLog },
): PingScheduler {
  const jobs = pings.map((ping) => {
    validatePing(ping);
    const job = new Cron(
      ping.schedule,
      { mode: '5-part', timezone: ping.timezone, protect: true },
      async (self: Cron) => {
        const scheduled = self.currentRun() ?? new Date();
        const event = pingEvent(ping, scheduled);
        const { last, attempts } = await sendWithRetries(ping.sinkUrl, event, pingDelivery, deps);
        if (last.kind === 'response' && last.response.status >= 200 && last.response.status < 300)
          deps.log.info(`${ping.name} → ${ping.sinkLabel}: ${last.response.status}`, { eventId: event.id });
        else
          deps.log.error(
            `${ping.name} → ${ping.sinkLabel} failed: ${describeAttempt(last)} after ${attempts} attempts`,
            { eventId: event.id },
          );
      },
    );
    return { name: ping.name, job };
  });
  return {
    nextRuns: () => jobs.map(({ name, job }) => ({ name, next: job.nextRun() })),
    stop: () => jobs.forEach(({ job }) => job.stop()),
  };
}
