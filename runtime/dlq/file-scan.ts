// Reads a range of the store file line by line in fixed-size chunks: start-up and foreign appends are
// indexed without ever holding the whole file (no 2 GiB Buffer limit, memory bounded by the longest line).
import type { StoreFileHandle } from './file-system.js';

const chunkBytes = 1024 * 1024;

export interface ScannedLine {
  readonly offset: number;
  readonly bytes: Buffer;
  /** False for a last line with no newline at the end of the range. */
  readonly terminated: boolean;
}

export async function scanLines(
  handle: StoreFileHandle,
  from: number,
  to: number,
  onLine: (line: ScannedLine) => void,
): Promise<void> {
  let position = from;
  let pending: Buffer[] = [];
  let pendingStart = from;
  const chunk = Buffer.allocUnsafe(chunkBytes);
  while (position < to) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunkBytes, to - position), position);
    if (bytesRead === 0) break;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1 || newline >= bytesRead) break;
      const piece = chunk.subarray(start, newline);
      const bytes = pending.length > 0 ? Buffer.concat([...pending, piece]) : Buffer.from(piece);
      onLine({ offset: pendingStart, bytes, terminated: true });
      pending = [];
      start = newline + 1;
      pendingStart = position + start;
    }
    if (start < bytesRead) pending.push(Buffer.from(chunk.subarray(start, bytesRead)));
    position += bytesRead;
  }
  if (pending.length > 0) onLine({ offset: pendingStart, bytes: Buffer.concat(pending), terminated: false });
}
