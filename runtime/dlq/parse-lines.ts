// Reads the JSON-lines store back. A line that is not a record (a write cut short by a crash, a disk error,
// a hand edit) is returned as a CorruptLine with its position, so the caller reports it; nothing is skipped
// in silence.
import type { StoreLine } from './record.js';
import type { CorruptLine } from './store.js';

const previewChars = 120;

function isRecord(value: unknown): value is StoreLine {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  if (typeof line.id !== 'string' || line.id === '') return false;
  if (line.kind === 'dead-letter') {
    return typeof line.receivedAt === 'string' && typeof line.event === 'object' && line.event !== null && typeof line.error === 'object' && line.error !== null;
  }
  return line.kind === 'replayed' && typeof line.replayedAt === 'string';
}

export interface ParsedStore {
  readonly lines: readonly StoreLine[];
  readonly corrupt: readonly CorruptLine[];
}

export function parseStoreLines(content: Buffer): ParsedStore {
  const lines: StoreLine[] = [];
  const corrupt: CorruptLine[] = [];
  let offset = 0;
  let lineNumber = 0;
  while (offset < content.length) {
    const newline = content.indexOf(0x0a, offset);
    const end = newline === -1 ? content.length : newline;
    lineNumber++;
    const text = content.subarray(offset, end).toString('utf8');
    const unterminated = newline === -1;
    if (text.trim() !== '') {
      let reason: string | undefined;
      try {
        const value: unknown = JSON.parse(text);
        if (isRecord(value)) lines.push(value);
        else reason = 'valid JSON but not a dead-letter or replay record';
      } catch (err) {
        reason = unterminated
          ? 'truncated: the last line has no newline and is not complete JSON (a write cut short)'
          : `not valid JSON (${(err as Error).message})`;
      }
      if (reason) corrupt.push({ line: lineNumber, offset, reason, preview: text.slice(0, previewChars) });
    }
    offset = end + 1;
  }
  return { lines, corrupt };
}
