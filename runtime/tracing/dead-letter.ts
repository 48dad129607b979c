// The dlq's `receive` span for a dead letter: a CONSUMER in the event's own trace (the failed delivery's), with
// what Knative says failed as attributes: knativeerrordest (the URL), knativeerrorcode (its last status) and
// an event carrying the start of knativeerrordata. Replays start their own traces (replay.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { endWithOutcome, startIncomingSpan } from './hops.js';
import { noopTracing, type Span, type Tracing } from './index.js';

export interface DeadLetterLike {
  readonly event: Record<string, unknown>;
  readonly error: {
    readonly destination: string | undefined;
    readonly code: string | undefined;
    readonly data: string | undefined;
  };
}

export function startDeadLetterSpan(
  tracing: Tracing | undefined,
  headers: IncomingHttpHeaders,
  letter: DeadLetterLike,
  startTime?: number,
): Span {
  const t = tracing ?? noopTracing;
  const code = letter.error.code === undefined ? undefined : Number(letter.error.code);
  const span = startIncomingSpan(t, 'receive dead-letter', {
    kind: 'consumer',
    headers,
    event: letter.event,
    startTime,
    attributes: {
      'messaging.operation.name': 'receive',
      'messaging.operation.type': 'receive',
      'messaging.destination.name': 'dead-letter',
      knativeerrordest: letter.error.destination,
      knativeerrorcode: code !== undefined && Number.isInteger(code) ? code : letter.error.code,
    },
  });
  if (span.recording && letter.error.data !== undefined)
    span.addEvent('knativeerrordata', { knativeerrordata: letter.error.data.slice(0, 256) });
  return span;
}

/** Ends the span: stored (its id, and whether it was a repeated delivery) or the error that refused it. */
export function endDeadLetterSpan(
  span: Span,
  outcome: { status?: number; error?: unknown; deadLetterId?: string; duplicate?: boolean },
): void {
  if (outcome.deadLetterId !== undefined)
    span.setAttributes({
      'knative_events.dead_letter.id': outcome.deadLetterId,
      'knative_events.dead_letter.duplicate': outcome.duplicate ?? false,
    });
  endWithOutcome(span, outcome);
}
