// The summary printed once the pipeline is up: what runs where, and how to send a first event.
import { relative } from 'node:path';
import type { Plan } from './plan.js';

function columns(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd());
}

export interface SummaryExtras {
  readonly cwd: string;
  readonly nextPings: ReadonlyArray<{ name: string; next: Date | null }>;
  readonly dlqFiles: readonly string[];
  readonly notReady: readonly string[];
  readonly stateFile: string;
}

export function summary(plan: Plan, extras: SummaryExtras): string {
  const rel = (p: string) => (relative(extras.cwd, p).startsWith('..') ? p : relative(extras.cwd, p));
  const lines: string[] = ['', 'knative-events local pipeline', ''];
  lines.push('Services');
  lines.push(...columns([['NAME', 'URL', 'ROLE', 'FUNCTION', ''], ...plan.services.map((s) => [s.short, s.url, s.role, s.functionName ?? '-', extras.notReady.includes(s.short) ? '(not ready: see its log)' : ''])]));
  lines.push('', 'Broker');
  lines.push(...columns(plan.brokers.map((b) => [b.name, b.url])));
  lines.push('', 'Triggers');
  lines.push(
    ...columns([
      ['NAME', 'FILTER', 'SUBSCRIBER', 'DELIVERY'],
      ...plan.triggers.map((t) => [
        t.name,
        t.filter.filters && t.filter.filters.length > 0 ? JSON.stringify(t.filter.filters) : t.filter.attributes ? JSON.stringify(t.filter.attributes) : 'all events',
        t.subscriberLabel,
        `retry ${t.delivery.retry} ${t.delivery.backoffPolicy} ${t.delivery.backoffDelayMs} ms${t.delivery.deadLetterUrl ? ', dead letters → ' + t.delivery.deadLetterUrl : ''}`,
      ]),
    ]),
  );
  if (plan.pings.length > 0) {
    lines.push('', 'Ping sources');
    lines.push(...columns(plan.pings.map((p) => [p.name, `"${p.schedule}"${p.timezone ? ` ${p.timezone}` : ''}`, `→ ${p.sinkLabel}`, `next ${extras.nextPings.find((n) => n.name === p.name)?.next?.toISOString() ?? '-'}`])));
  }
  lines.push('', 'Kafka sinks (one JSON line per record)');
  lines.push(...columns(plan.sinks.map((s) => [s.name, `topic ${s.topic}`, s.contentMode, rel(s.file)])));
  if (extras.dlqFiles.length > 0) lines.push('', 'Dead letters', ...extras.dlqFiles.map((f) => `  ${rel(f)}`));
  const handler = plan.services.find((s) => s.role === 'handler');
  if (handler) {
    lines.push('', 'Send a first event');
    lines.push(`  npm run send -- --type com.example.trade --source /local/try --data '{"trade_id":"T-1","instrument":{"ticker":"acme"},"qty":10,"px":1.5,"side":"B","trade_time":"2024-01-02T03:04:05Z"}'`);
    lines.push(`  curl -i ${handler.url} -H 'Content-Type: application/json' -H 'ce_source: event-subscriber-source' -H 'ce_type: event-subscriber-type' -d '{"event_data_1":"data value 1"}'`);
  }
  lines.push('', `State: ${rel(extras.stateFile)}    Ctrl-C stops everything (services drain first).`, '');
  return lines.join('\n');
}
