// The summary printed once the pipeline is up: what runs where, how to reach the dead letters, and how to
// send a first event. Lines stay within 120 columns where the content allows (trigger filters wrap onto
// their own lines); commands are kept on one line so they can be copied whole.
import { relative } from 'node:path';
import type { DialectFilter, TriggerFilter } from './filter.js';
import type { Plan, ServicePlan } from './plan.js';
import type { Suggestion } from './suggest.js';

export const tableWidth = 120;

function columns(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd());
}

/** Greedy wrap at the filter's " or " / " and " (then at spaces when one clause alone is too long). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const pieces = text.split(/(?<= or | and )/).flatMap((p) => (p.length > width ? p.split(/(?<= )/) : [p]));
  for (const piece of pieces) {
    if (line !== '' && (line + piece).trimEnd().length > width) {
      lines.push(line.trimEnd());
      line = piece;
    } else line += piece;
  }
  if (line.trim() !== '') lines.push(line.trimEnd());
  return lines;
}

function describeDialect(f: DialectFilter, nested: boolean): string {
  const pairs = (values: Readonly<Record<string, string>>, op: string) =>
    Object.entries(values)
      .map(([k, v]) => `${k} ${op} ${v}`)
      .join(' and ');
  if ('exact' in f) return pairs(f.exact, '=');
  if ('prefix' in f) return pairs(f.prefix, 'starts with');
  if ('suffix' in f) return pairs(f.suffix, 'ends with');
  if ('not' in f) return `not (${describeDialect(f.not, false)})`;
  const [list, joiner] = 'all' in f ? [f.all, ' and '] : [f.any, ' or '];
  if (list.length === 0) return 'all events';
  const text = list.map((sub) => describeDialect(sub, true)).join(joiner);
  return nested && list.length > 1 ? `(${text})` : text;
}

/** A Trigger's filter in words: `type = com.example.trade`, `type starts with com.example. or type = x`. */
export function describeFilter(filter: TriggerFilter): string {
  if (filter.filters && filter.filters.length > 0)
    return filter.filters.map((f) => describeDialect(f, filter.filters!.length > 1)).join(' and ');
  const attrs = Object.entries(filter.attributes ?? {});
  if (attrs.length === 0) return 'all events';
  return attrs.map(([k, v]) => (v === '' ? `${k} is set` : `${k} = ${v}`)).join(' and ');
}

export interface DlqAccess {
  readonly short: string;
  /** The store file (file store), relative paths are shown from the cwd. */
  readonly file: string | undefined;
  readonly adminUrl: string;
  /** The token to print (generated for this run); undefined when it came from the secrets file. */
  readonly token: string | undefined;
  /** Where the token came from, e.g. "generated for this run" or "Secret x key token in <file>". */
  readonly tokenFrom: string | undefined;
  /** The dead-letter web console, once there is one: the table prints it when set. */
  readonly consoleUrl: string | undefined;
}

export interface SummaryExtras {
  readonly cwd: string;
  readonly nextPings: ReadonlyArray<{ name: string; next: Date | null }>;
  readonly dlq: readonly DlqAccess[];
  readonly notReady: readonly string[];
  readonly stateFile: string;
  readonly suggestions: readonly Suggestion[];
  /** HANDLER_AUTH of the handler the suggestions post to. */
  readonly handlerAuth: string;
}

/** Shell-quoted only when it needs to be, so the commands read like the README's. */
const quote = (s: string) => (/^[A-Za-z0-9._/:=@,+-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** Object names without the release's fullname prefix every one of them carries (local-knative-events-…). */
function shortName(plan: Plan, name: string): string {
  const s = plan.services[0];
  const prefix = s && s.name.endsWith(s.short) ? s.name.slice(0, s.name.length - s.short.length) : '';
  return prefix !== '' && name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : name;
}

function serviceLabel(plan: Plan, url: string | undefined, fallback: string): string {
  const service: ServicePlan | undefined = url ? plan.services.find((s) => url.startsWith(s.url)) : undefined;
  return service ? service.short : fallback;
}

const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`);

function triggerLines(plan: Plan): string[] {
  const names = plan.triggers.map((t) => shortName(plan, t.name));
  const rows = plan.triggers.map((t, i) => [
    names[i] as string,
    serviceLabel(plan, t.subscriberUrl, t.subscriberLabel),
    `retry ${t.delivery.retry} ${t.delivery.backoffPolicy} ${duration(t.delivery.backoffDelayMs)}${t.delivery.timeoutMs ? `, timeout ${duration(t.delivery.timeoutMs)}` : ''}, dead letters → ${t.delivery.deadLetterUrl ? serviceLabel(plan, t.delivery.deadLetterUrl, t.delivery.deadLetterUrl) : 'none (dropped)'}`,
  ]);
  const table = columns([['NAME', 'SUBSCRIBER', 'DELIVERY'], ...rows]);
  const indent = ' '.repeat(2 + Math.max(4, ...names.map((n) => n.length)) + 2);
  const out = [table[0] as string];
  plan.triggers.forEach((t, i) => {
    out.push(table[i + 1] as string);
    const words = wrap(`filter: ${describeFilter(t.filter)}`, tableWidth - indent.length);
    out.push(...words.map((w, j) => `${indent}${j === 0 ? '' : '        '}${w}`));
  });
  return out;
}

function sendLines(plan: Plan, extras: SummaryExtras): string[] {
  const handler = plan.services.find((s) => s.role === 'handler');
  if (!handler) return [];
  if (extras.notReady.includes(handler.short))
    return ['', `Send a first event: not yet — ${handler.short} is not ready (its log says why).`];
  if (extras.suggestions.length === 0)
    return [
      '',
      'Send a first event: no trigger of this values file can be matched by a simple event; see the Triggers above.',
    ];
  const sign = extras.handlerAuth === 'hmac' ? ' --sign' : '';
  const lines = [
    '',
    `Send a first event (another terminal; npm run send prints 202 once the broker has it, then follow it in the logs here)`,
  ];
  if (extras.handlerAuth === 'hmac')
    lines.push(
      '  # the handler checks HMAC signatures: --sign signs with HANDLER_AUTH_KEYS from the local secrets file',
    );
  if (extras.handlerAuth === 'bearer')
    lines.push(
      '  # the handler wants Authorization: Bearer <one of HANDLER_AUTH_KEYS>: add it as a header to the curl below',
    );
  for (const s of extras.suggestions) {
    const also = s.reaches.slice(1);
    lines.push(
      `  # → trigger ${shortName(plan, s.trigger)}${also.length > 0 ? ` (and ${also.map((n) => shortName(plan, n)).join(', ')})` : ''}`,
    );
    const ext = Object.entries(s.extensions)
      .map(([k, v]) => ` --ext ${quote(`${k}=${v}`)}`)
      .join('');
    lines.push(
      `  npm run send --${sign} --type ${quote(s.type)} --source ${quote(s.source)}${ext} --data ${quote(s.data)}`,
    );
  }
  const first = extras.suggestions[0];
  if (first && extras.handlerAuth !== 'hmac' && Object.keys(first.extensions).length === 0) {
    lines.push('  # the same first event with curl, in the legacy ce_type/ce_source form the handler also takes');
    lines.push(
      `  curl -i ${handler.url} -H 'Content-Type: application/json' -H ${quote(`ce_type: ${first.type}`)} -H ${quote(`ce_source: ${first.source}`)} -d ${quote(first.data)}`,
    );
  }
  return lines;
}

function dlqLines(extras: SummaryExtras, rel: (p: string) => string): string[] {
  if (extras.dlq.length === 0) return [];
  const lines = ['', 'Dead letters'];
  for (const d of extras.dlq) {
    lines.push(`  ${d.short}${d.file ? `  ${rel(d.file)}` : ''}`);
    lines.push(`    admin API  curl -H 'Authorization: Bearer ${d.token ?? '<token>'}' ${d.adminUrl}`);
    if (d.tokenFrom) lines.push(`               (${d.tokenFrom})`);
    if (d.consoleUrl) lines.push(`    console    ${d.consoleUrl}`);
  }
  return lines;
}

export function summary(plan: Plan, extras: SummaryExtras): string {
  const rel = (p: string) => (relative(extras.cwd, p).startsWith('..') ? p : relative(extras.cwd, p));
  const lines: string[] = ['', 'knative-events local pipeline', ''];
  lines.push('Services');
  lines.push(
    ...columns([
      ['NAME', 'URL', 'ROLE', 'FUNCTION', ''],
      ...plan.services.map((s) => [
        s.short,
        s.url,
        s.role,
        s.functionName ?? '-',
        extras.notReady.includes(s.short) ? '(not ready: see its log)' : '',
      ]),
    ]),
  );
  lines.push('', 'Broker');
  lines.push(...columns(plan.brokers.map((b) => [b.name, b.url])));
  if (plan.triggers.length > 0) lines.push('', 'Triggers', ...triggerLines(plan));
  if (plan.pings.length > 0) {
    lines.push('', 'Ping sources');
    lines.push(
      ...columns(
        plan.pings.map((p) => [
          p.name,
          `"${p.schedule}"${p.timezone ? ` ${p.timezone}` : ''}`,
          `→ ${serviceLabel(plan, p.sinkUrl, p.sinkLabel)}`,
          `next ${extras.nextPings.find((n) => n.name === p.name)?.next?.toISOString() ?? '-'}`,
        ]),
      ),
    );
  }
  if (plan.sinks.length > 0) {
    lines.push('', 'Kafka sinks (one JSON line per record)');
    lines.push(...columns(plan.sinks.map((s) => [s.name, `topic ${s.topic}`, s.contentMode, rel(s.file)])));
  }
  lines.push(...dlqLines(extras, rel));
  lines.push(...sendLines(plan, extras));
  lines.push('', `State: ${rel(extras.stateFile)}    Ctrl-C stops everything (services drain first).`, '');
  return lines.join('\n');
}
