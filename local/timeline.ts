// An event's path as a timeline, from its spans (local/traces.ts): one block per trace (the event's own, then
// each replay, which links back to it), spans as a tree by parent, in start order, with their offset from the
// trace's start, duration, service, outcome and what matters about them: retries (a repeated `process` under one
// `publish`), the dead letter (knativeerrordest, knativeerrorcode) and the replay link.
import type { AnyValue, ReceivedSpan } from './otlp-decode.js';

const ms = (ns: bigint) => Number(ns) / 1e6;
const fixed = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

function outcome(s: ReceivedSpan): string {
  const status = s.attributes['http.response.status_code'];
  const failed = s.status.code === 2;
  const parts = [
    status === undefined ? '' : String(status),
    failed ? `ERROR ${String(s.attributes['error.type'] ?? '')}`.trim() : '',
  ].filter(Boolean);
  return parts.join(' ');
}

function details(s: ReceivedSpan, attempt: number | undefined): string {
  const a = s.attributes;
  const out: string[] = [];
  if (attempt !== undefined) out.push(`attempt ${attempt}`);
  const retries = a['http.request.resend_count'];
  if (typeof retries === 'number' && retries > 0) out.push(`${retries} retr${retries === 1 ? 'y' : 'ies'}`);
  if (a.knativeerrordest !== undefined)
    out.push(`dead letter: ${show(a.knativeerrordest)} answered ${show(a.knativeerrorcode)}`);
  if (a['knative_events.replay.id'] !== undefined)
    out.push(
      `replay ${show(a['knative_events.replay.id'])} of dead letter ${show(a['knative_events.dead_letter.id'])}`,
    );
  for (const l of s.links)
    out.push(
      `→ linked to trace ${l.traceId.slice(0, 8)}… span ${l.spanId.slice(0, 8)}…${l.attributes['knative_events.link'] ? ` (${show(l.attributes['knative_events.link'])})` : ''}`,
    );
  const event = a['cloudevents.event_type'];
  if (event !== undefined && s.kind === 'producer') out.push(show(event));
  return out.join('; ');
}

const show = (v: AnyValue) => (Array.isArray(v) ? v.join(',') : String(v));

/** The lines of one trace, depth-first by parent, siblings by start. */
function traceLines(spans: readonly ReceivedSpan[]): string[] {
  const start = spans.reduce((min, s) => (s.startNs < min ? s.startNs : min), spans[0]!.startNs);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  for (const list of children.values())
    list.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const lines: string[] = [];
  const serviceOf = (s: ReceivedSpan) => String(s.resource['service.name'] ?? '?');
  const serviceWidth = Math.max(...spans.map((s) => serviceOf(s).length));
  const walk = (parent: string, depth: number) => {
    const list = children.get(parent) ?? [];
    // One service processing one publish more than once: Knative retried (several services: the triggers' fan-out).
    const attempts = (s: ReceivedSpan) =>
      list.filter((x) => x.kind === 'consumer' && x.name === s.name && serviceOf(x) === serviceOf(s));
    list.forEach((s) => {
      const same = attempts(s);
      const attempt = same.length > 1 ? same.indexOf(s) + 1 : undefined;
      const offset = `+${fixed(ms(s.startNs - start))} ms`.padStart(11);
      const took = `${fixed(ms(s.endNs - s.startNs))} ms`.padStart(10);
      const service = serviceOf(s).padEnd(serviceWidth);
      const name = `${'  '.repeat(depth)}${s.name}`.padEnd(32);
      lines.push(
        `${offset} ${took}  ${service} ${name} ${s.kind.toUpperCase().padEnd(9)} ${outcome(s).padEnd(22)} ${details(s, attempt)}`.trimEnd(),
      );
      walk(s.spanId, depth + 1);
    });
  };
  walk('', 0);
  return lines;
}

/** The timeline of an event: its own trace first, then the traces that link to it (replays), oldest first. */
export function formatTimeline(eventId: string, spans: readonly ReceivedSpan[]): string {
  if (spans.length === 0) return `no spans for event ${eventId} (yet: services export every 200 ms; is tracing on?)`;
  const traces = new Map<string, ReceivedSpan[]>();
  for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
  const first = (list: ReceivedSpan[]) =>
    list.reduce((min, s) => (s.startNs < min ? s.startNs : min), list[0]!.startNs);
  const ordered = [...traces.entries()].sort((a, b) => {
    const ownA = a[1].some((s) => s.links.length === 0 && s.attributes['cloudevents.event_id'] === eventId) ? 0 : 1;
    const ownB = b[1].some((s) => s.links.length === 0 && s.attributes['cloudevents.event_id'] === eventId) ? 0 : 1;
    return ownA - ownB || (first(a[1]) < first(b[1]) ? -1 : 1);
  });
  const blocks = ordered.map(([traceId, list]) => {
    const replay = list.some((s) => s.attributes['knative_events.replay.id'] !== undefined && s.parentSpanId === '');
    return [
      `${replay ? 'replay trace' : 'trace'} ${traceId} (${list.length} span${list.length === 1 ? '' : 's'})`,
      ...traceLines(list),
    ].join('\n');
  });
  return [`event ${eventId}`, ...blocks].join('\n\n');
}
