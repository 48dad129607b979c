// One line of the JSON-lines store, read back. A line that is not a record (a write cut short by a crash, a
// disk error, a hand edit) comes back with the reason, so the caller reports it: nothing is skipped in silence.
import type { StoreLine } from './record.js';

export const previewChars = 120;

function isRecord(value: unknown): value is StoreLine {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  if (typeof line.id !== 'string' || line.id === '') return false;
  if (line.kind === 'dead-letter') {
    return (
      typeof line.receivedAt === 'string' &&
      typeof line.event === 'object' &&
      line.event !== null &&
      typeof line.error === 'object' &&
      line.error !== null
    );
  }
  if (line.kind === 'purged') return typeof line.purgedAt === 'string';
  return line.kind === 'replayed' && typeof line.replayedAt === 'string';
}

export type ParsedLine = { readonly line: StoreLine } | { readonly reason: string };

/** `terminated`: the line ended with a newline (a last line without one was cut short, or is being appended). */
export function parseStoreLine(text: string, terminated: boolean): ParsedLine | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return { line: value };
    return { reason: 'valid JSON but not a dead-letter or replay record' };
  } catch (err) {
    return {
      reason: terminated
        ? `not valid JSON (${(err as Error).message})`
        : 'truncated: the last line has no newline and is not complete JSON (a write cut short)',
    };
  }
}
