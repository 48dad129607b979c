// Sends a dead letter again and records that it did. Where to (replay-target.ts): by default the subscriber
// that failed (knativeerrordest), so the Triggers that already handled the event do not get it twice; or the
// broker, or an allow-listed URL.
//
// The replayed event keeps its original id, loses the knativeerror* extensions and gains a `replayid`
// extension: a new id per replay, also written into the original's replay marker (replayId), so the
// original points to its replay and a replayed event that fails again points back to it.
//
// Idempotent: a dead letter with a replay marker is not sent again unless forced, and two replays of one id
// at the same time share one send. If the process dies between the send and the marker, a later replay sends
// it again with the same event id (at-least-once, never a new identity).
import { CloudEvent } from 'cloudevents';
import { WireEvent } from '../events/wire-event.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import type { Tracing } from '../tracing/index.js';
import { traceReplay } from '../tracing/replay.js';
import { wireForReplay, wireJson, type DeadLetter, type ReplayMarker } from './record.js';
import type { ReplayTargets, ResolvedTarget } from './replay-target.js';
import type { DeadLetterQueries, StoredLetter } from './store.js';

export type ReplayOutcome =
  | {
      readonly id: string;
      readonly replayed: true;
      readonly status: number;
      readonly to: string;
      readonly target: string;
      readonly replayId: string;
      readonly replayedAt: string;
      /** The reply event the destination answered with, published into the broker. */
      readonly reply?: { readonly id: string; readonly type: string; readonly status: number };
    }
  | {
      readonly id: string;
      readonly replayed: false;
      readonly alreadyReplayedAt: string;
      readonly replayId: string | null;
    };

export interface ReplayOptions {
  readonly force: boolean;
  /** destination (default), broker, or an allow-listed URL. */
  readonly to?: string;
  /** The bulk job doing it (recorded in the marker). */
  readonly job?: string;
  /** Called right before the event goes out (a job's rate limiter): not for skipped or unsendable letters. */
  readonly beforeSend?: () => Promise<void>;
}

export interface Replayer {
  /** The targets this dlq may replay to (for the console and errors). */
  readonly targets: ReplayTargets;
  replay(stored: StoredLetter, options: ReplayOptions): Promise<ReplayOutcome>;
  /** What a replay would send, without sending (dry run). */
  preview(letter: DeadLetter, to: string | undefined): { to: string; target: string; event: Record<string, unknown> };
}

/** Sends to one target: the broker's sender, or the destination delivery (replay-delivery.ts). */
export interface ReplaySender {
  send(event: WireEvent): Promise<{ status: number; reply?: { id: string; type: string; status: number } }>;
}

/** The attribute linking a replayed event to its replay (and so to the dead letter it came from). */
export const replayIdExtension = 'replayid';

interface TraceIds {
  readonly deadLetterId: string;
  readonly replayId: string;
}

const traceAttributes = ['specversion', 'id', 'source', 'type', 'subject', 'traceparent', 'tracestate'];

/**
 * The replay's trace (runtime/tracing/replay.ts works on an SDK CloudEvent): it is given the attributes it
 * reads, and only the trace context it sets comes back into the wire event, so attributes and data go out
 * as they were stored.
 */
function traced(tracing: Tracing | undefined, event: WireEvent, target: ResolvedTarget, ids: TraceIds) {
  const attributes: Record<string, unknown> = {};
  for (const name of traceAttributes) if (event.attributes.has(name)) attributes[name] = event.attributes.get(name);
  const probe = new CloudEvent<unknown>(attributes, false);
  const trace = traceReplay(tracing, probe, target, ids);
  // `end` is passed on as a function of its own: called as trace.end, so whatever `this` it uses stays bound.
  const end = (outcome: { status?: number; error?: unknown }) => trace.end(outcome);
  if (trace.event === probe) return { event, end };
  const withContext = new Map(event.attributes);
  for (const name of ['traceparent', 'tracestate']) {
    const value = (trace.event as unknown as Record<string, unknown>)[name];
    if (typeof value === 'string') withContext.set(name, value);
    else withContext.delete(name);
  }
  return { event: new WireEvent(withContext, event.data), end };
}

export interface ReplayerOptions {
  readonly store: DeadLetterQueries;
  readonly targets: ReplayTargets;
  readonly senderFor: (target: ResolvedTarget) => ReplaySender;
  readonly now: () => Date;
  readonly newId: () => string;
  readonly log: Logger;
  /** Each replay is a new trace linked to the original one (runtime/tracing/replay.ts). */
  readonly tracing?: Tracing;
}

/** Replays done by this process: a caller may hold a letter read before another replay's marker landed. */
type DoneHere = Map<string, ReplayMarker>;

/**
 * The event as it goes out again. Built before the rate limiter is asked: an event that cannot be sent (stored
 * raw, a poison attribute) fails here and takes no slot of the job's rate.
 */
function replayEvent(letter: DeadLetter, replayId: string): WireEvent {
  try {
    return wireForReplay(letter, { [replayIdExtension]: replayId });
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(
      422,
      'invalid_event',
      `dead letter ${letter.id} cannot be sent as a CloudEvent: ${(err as Error).message}`,
    );
  }
}

/** Sends it in a new trace per replay, with a span link to the trace the event had when it failed. */
async function sendTraced(options: ReplayerOptions, target: ResolvedTarget, event: WireEvent, ids: TraceIds) {
  const trace = traced(options.tracing, event, target, ids);
  try {
    const sent = await options.senderFor(target).send(trace.event);
    trace.end({ status: sent.status });
    return sent;
  } catch (err) {
    trace.end({ error: err });
    throw err;
  }
}

/** The marker, remembered here and written to the store; sent but not marked is an error that says so. */
async function recordReplay(options: ReplayerOptions, doneHere: DoneHere, marker: ReplayMarker): Promise<void> {
  doneHere.set(marker.id, marker);
  if (doneHere.size > 100_000) doneHere.delete(doneHere.keys().next().value as string);
  try {
    await options.store.markReplayed(marker);
  } catch (err) {
    // Sent but not marked: a later replay would send it again (with the same event id). Say so.
    options.log.error(
      { err, deadLetter: marker.id },
      'dead letter replayed but the replay marker could not be written',
    );
    throw new HttpError(
      500,
      'store_failed',
      `dead letter ${marker.id} was replayed (status ${marker.status}) but could not be marked as replayed; after a restart a second replay would send it again`,
    );
  }
}

async function replayOnce(
  options: ReplayerOptions,
  doneHere: DoneHere,
  { letter, replayed }: StoredLetter,
  opts: ReplayOptions,
): Promise<ReplayOutcome> {
  const previous = doneHere.get(letter.id) ?? replayed;
  if (previous && !opts.force)
    return {
      id: letter.id,
      replayed: false,
      alreadyReplayedAt: previous.replayedAt,
      replayId: previous.replayId ?? null,
    };
  const target = options.targets.resolve(opts.to, letter);
  const replayId = options.newId();
  const event = replayEvent(letter, replayId);
  await opts.beforeSend?.();
  const { status, reply } = await sendTraced(options, target, event, { deadLetterId: letter.id, replayId });
  const marker: ReplayMarker = {
    kind: 'replayed',
    id: letter.id,
    replayedAt: options.now().toISOString(),
    target: target.url,
    status,
    replayId,
    to: target.to,
    ...(opts.job === undefined ? {} : { job: opts.job }),
  };
  await recordReplay(options, doneHere, marker);
  const { to, url } = target;
  const logged = { deadLetter: letter.id, eventId: letter.event.id, status, to, target: url, replayId };
  options.log.info({ ...logged, job: opts.job, replyId: reply?.id }, 'dead letter replayed');
  const { replayedAt } = marker;
  return { id: letter.id, replayed: true, status, to, target: url, replayId, replayedAt, ...(reply ? { reply } : {}) };
}

export function createReplayer(options: ReplayerOptions): Replayer {
  const { targets } = options;
  const inFlight = new Map<string, Promise<ReplayOutcome>>();
  const doneHere: DoneHere = new Map();
  return {
    targets,
    replay(stored, opts) {
      const id = stored.letter.id;
      const running = inFlight.get(id);
      if (running) return running;
      const started = replayOnce(options, doneHere, stored, opts).finally(() => inFlight.delete(id));
      inFlight.set(id, started);
      return started;
    },
    preview(letter, to) {
      const target = targets.resolve(to, letter);
      const event = wireForReplay(letter, { [replayIdExtension]: '(a new id, assigned when sent)' });
      return { to: target.to, target: target.url, event: wireJson(event) };
    },
  };
}
