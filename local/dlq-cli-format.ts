// How `npm run dlq` prints for people: tables of dead letters, jobs and audit entries (one line per row, no
// terminal control characters from a dead letter's attacker-controlled fields), and a job's progress line.
import type { Job, LetterSummary, Row } from './dlq-cli-api.js';

/** A value in a line of text: strings as they are, anything else as its JSON. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

function cell(value: unknown): string {
  // One line per row, and no terminal control characters from a dead letter's attacker-controlled fields.
  return [...show(value).replace(/\s+/g, ' ')]
    .map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c))
    .join('');
}

export function table(rows: ReadonlyArray<Readonly<Row>>, columns: readonly string[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) =>
    Math.min(60, Math.max(column.length, ...cells.map((r) => (r[i] ?? '').length))),
  );
  const fit = (text: string, width: number) =>
    text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
  return [
    columns.map((c, i) => fit(c, widths[i] ?? 0)).join('  '),
    ...cells.map((r) => r.map((c, i) => fit(c, widths[i] ?? 0)).join('  ')),
  ]
    .map((line) => line.trimEnd())
    .join('\n');
}

/** A dead letter's row: its error's code and destination as columns of their own, and whether it was replayed. */
export function letterColumns(items: readonly LetterSummary[]): Row[] {
  return items.map((i) => ({
    ...i,
    code: i.error.code,
    destination: i.error.destination,
    replayed: i.replayedAt ?? 'no',
  }));
}

export function jobLine(job: Job): string {
  const counts = `replayed ${job.replayed}, skipped ${job.skipped}, failed ${job.failed}`;
  const reason = job.reason ? `  (${job.reason})` : '';
  return `${job.id}  ${job.state}  ${job.done}/${job.total ?? '?'}  ${counts}  to ${job.to} at ${job.rate}/s${reason}`;
}
