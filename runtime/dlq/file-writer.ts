// The file store's writes: every line (a dead letter, a replay or purge marker) is queued, and the queue is
// written as one batch with one write and one fsync (group commit); each line's promise resolves only once its
// bytes are durable, and only then is the line indexed. A batch written into a file that was deleted or
// replaced meanwhile is written again to the new one (file-guard.ts finds it).
import type { FieldValues } from './file-index.js';
import type { OpenFile, StoreFile } from './file-open.js';
import { checkFile, checkSize, repair, stillLinked } from './file-guard.js';
import type { StoreFileHandle } from './file-system.js';
import type { DeadLetter, PurgeMarker, ReplayMarker } from './record.js';

/** What the index learns once a line is written: a dead letter's values, or the record a marker is for. */
export interface LineEffect {
  readonly values?: FieldValues;
  /** For a replay marker, the record it marks. */
  readonly marks?: number;
  /** For a purge marker, the record it removes. */
  readonly purges?: number;
}

interface Pending extends LineEffect {
  readonly bytes: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

export interface FileWriter {
  /** Resolves once the line is written and fsynced (and indexed). */
  write(line: DeadLetter | ReplayMarker | PurgeMarker, effect: LineEffect): Promise<void>;
  /** Resolves once nothing is queued or being written (close). */
  idle(): Promise<void>;
}

const newline = Buffer.from('\n');

/** write() may write less than asked (a nearly full disk): loop until all is written or it fails. */
async function writeAll(handle: StoreFileHandle, buffer: Buffer): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done);
    if (bytesWritten <= 0)
      throw Object.assign(new Error('no bytes written (no space left on device?)'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}

/** The written lines into the index: they are in the file from `offset` on, one after the other. */
function indexBatch(target: OpenFile, batch: readonly Pending[], offset: number): void {
  for (const p of batch) {
    const length = p.bytes.length - 1;
    if (p.values) target.index.add(offset, length, p.values);
    else if (p.marks !== undefined && p.marks < target.index.count) target.index.setReplay(p.marks, offset, length);
    else if (p.purges !== undefined && p.purges < target.index.count) target.purged.add(p.purges);
    offset += p.bytes.length;
  }
}

async function writeBatch(store: StoreFile, batch: readonly Pending[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    // Whether the file was deleted or replaced is checked after the write (it has to be anyway: it can happen
    // during the write); before it, only where the file ends. One file system round trip less per batch.
    if (attempt === 1) await checkSize(store);
    else await checkFile(store);
    const target = store.current;
    const prefix = target.partial ? newline : Buffer.alloc(0);
    const bytes = Buffer.concat([prefix, ...batch.map((p) => p.bytes)]);
    const start = target.end;
    try {
      await writeAll(target.handle, bytes);
      await target.handle.sync();
    } catch (err) {
      await repair(store, target, start);
      throw err;
    }
    if (await stillLinked(store, target)) {
      indexBatch(target, batch, start + prefix.length);
      target.lines += batch.length;
      target.end = start + bytes.length;
      target.partial = undefined;
      return;
    }
    // Written and synced into a file nobody will read again: write it to the new file instead.
    store.log.error(
      { file: store.path, attempt },
      'dead-letter store: the file was deleted or replaced during a write; writing the batch again',
    );
    if (attempt >= 3) throw new Error(`dead-letter store: ${store.path} keeps being deleted or replaced`);
  }
}

export function createFileWriter(store: StoreFile): FileWriter {
  let queue: Pending[] = [];
  let flushing: Promise<void> | undefined;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await writeBatch(store, batch);
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    flushing = undefined;
  }

  return {
    write(line, effect) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ bytes: Buffer.from(`${JSON.stringify(line)}\n`), ...effect, resolve, reject });
        flushing ??= flush();
      });
    },
    idle: async () => {
      await flushing;
    },
  };
}
