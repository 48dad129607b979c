// The default dead-letter store: an append-only JSON-lines file, one record per line. `append` resolves
// only after the line is written and fsynced, so an acknowledged dead letter survives kill -9 and power
// loss. Concurrent appends share one write and one fsync (group commit), which keeps the fsync cost per
// request low under load without ever answering before the data is on disk.
import * as fsPromises from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { parseStoreLines } from './parse-lines.js';
import type { DeadLetter, ReplayMarker, StoreLine } from './record.js';
import type { CorruptLine, DeadLetterStore, StoreContents } from './store.js';

/** The file operations the store uses; tests pass their own to make a disk fail. */
export type StoreFileSystem = Pick<typeof fsPromises, 'open' | 'readFile'>;

export interface FileStoreOptions {
  readonly path: string;
  readonly log: Logger;
  readonly fs?: StoreFileSystem;
}

export interface FileStore extends DeadLetterStore {
  /** What the start-up scan found unreadable (also logged at error level). */
  readonly corruptAtOpen: readonly CorruptLine[];
}

interface Pending {
  readonly text: string;
  readonly records: number;
  resolve(): void;
  reject(err: unknown): void;
}

const reportedLinesMax = 20;

export function reportCorrupt(log: Logger, path: string, corrupt: readonly CorruptLine[], when: string): void {
  if (corrupt.length === 0) return;
  for (const line of corrupt.slice(0, reportedLinesMax)) log.error({ file: path, ...line }, `dead-letter store: unreadable line ${line.line} (${when})`);
  log.error(
    { file: path, corruptLines: corrupt.length, lines: corrupt.map((c) => c.line) },
    `dead-letter store ${path} has ${corrupt.length} unreadable line(s); they are kept in the file and listed by GET /dead-letters`,
  );
}

async function readIfExists(fs: StoreFileSystem, path: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A new file's directory entry must be durable too, or a crash can lose the whole file. */
async function syncDirectory(fs: StoreFileSystem, path: string): Promise<void> {
  const dir = await fs.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function openFileStore(options: FileStoreOptions): Promise<FileStore> {
  const { path, log } = options;
  const fs = options.fs ?? fsPromises;
  const existing = await readIfExists(fs, path);
  const scanned = existing ? parseStoreLines(existing) : { lines: [], corrupt: [] };
  reportCorrupt(log, path, scanned.corrupt, 'found at start-up');

  // a+: append-only writes, and reads to check the last byte after a failed write.
  const handle = await fs.open(path, 'a+', 0o600);
  if (!existing) await syncDirectory(fs, path);
  let bytes = existing?.length ?? 0;
  let records = scanned.lines.filter((l) => l.kind === 'dead-letter').length;
  // Set when the file may end in the middle of a line (found so at start, or after a failed write).
  let checkLineStart = existing !== undefined && existing.length > 0 && existing[existing.length - 1] !== 0x0a;

  /** Ends a cut-short last line with a newline so the next record starts on a line of its own. */
  async function ensureLineStart(): Promise<void> {
    if (!checkLineStart) return;
    const size = (await handle.stat()).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        await handle.write('\n');
        log.warn({ file: path, offset: size }, 'dead-letter store: the file ended inside a line; closed it with a newline (the broken line is kept and reported)');
      }
    }
    bytes = (await handle.stat()).size;
    checkLineStart = false;
  }

  let queue: Pending[] = [];
  let flushing: Promise<void> | undefined;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await ensureLineStart();
        const text = batch.map((p) => p.text).join('');
        const { bytesWritten } = await handle.write(text);
        await handle.sync();
        bytes += bytesWritten;
        records += batch.reduce((n, p) => n + p.records, 0);
        for (const p of batch) p.resolve();
      } catch (err) {
        checkLineStart = true;
        for (const p of batch) p.reject(err);
      }
    }
    flushing = undefined;
  }

  function write(line: StoreLine): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ text: `${JSON.stringify(line)}\n`, records: line.kind === 'dead-letter' ? 1 : 0, resolve, reject });
      flushing ??= flush();
    });
  }

  return {
    kind: 'file',
    corruptAtOpen: scanned.corrupt,
    append: (letter: DeadLetter) => write(letter),
    markReplayed: (marker: ReplayMarker) => write(marker),
    size: () => ({ bytes, records }),
    async read(): Promise<StoreContents> {
      await flushing;
      // Only what was committed: a line being written right now is not "truncated", just not done yet.
      const content = (await fs.readFile(path)).subarray(0, bytes);
      const parsed = parseStoreLines(content);
      const letters: DeadLetter[] = [];
      const replays = new Map<string, ReplayMarker>();
      for (const line of parsed.lines) {
        if (line.kind === 'dead-letter') letters.push(line);
        else replays.set(line.id, line);
      }
      return { letters, replays, corrupt: parsed.corrupt };
    },
    async close() {
      await flushing;
      await handle.close();
    },
  };
}
