// The embedded dead-letter store: an append-only JSON-lines file, one record per line, for `npm start` and
// small single-replica installs on a persistent volume. `append` resolves only after every byte of the line
// is written and fsynced, so an acknowledged dead letter survives kill -9 and power loss. Concurrent appends
// share one write and one fsync (group commit).
//
// What it guards against, each with a test (test/dlq-file-store.test.ts):
// - a short or failed write (full disk): the batch is refused (503) and the file is cut back to the last good
//   byte, or, if even that fails, the next write starts with a newline: a record never shares a line;
// - the file deleted or replaced under it (its inode changed): detected before and after every write, the
//   file is recreated, logged at error level and counted; nothing is acknowledged into an unlinked file;
// - bytes appended by something else (a hand edit, a partial line): indexed and reported before the next
//   write, which starts on a line of its own;
// - size: the file is never read whole. Start-up streams it once into an index of offsets (file-index.ts);
//   a request reads only the lines it returns.
//
// In parts, one job each: file-open.ts (opening, the scan, reading a record back), file-guard.ts (the checks
// around a write, and the repair), file-writer.ts (group commit), file-append.ts (a dead letter, once),
// file-query.ts (the admin API's reads and marks). This module puts them together.
import type { Logger } from '../logger.js';
import { createAppend } from './file-append.js';
import { openFile, reportCorrupt, type StoreFile } from './file-open.js';
import { fileQueries } from './file-query.js';
import { nodeFileSystem, type StoreFileSystem } from './file-system.js';
import { createFileWriter } from './file-writer.js';
import type { CorruptLine, DeadLetterQueries, DeadLetterStore } from './store.js';

export type { StoreFileSystem, StoreFileHandle } from './file-system.js';
export { reportCorrupt } from './file-open.js';

export interface FileStoreOptions {
  readonly path: string;
  readonly log: Logger;
  readonly fs?: StoreFileSystem;
  /** Called when the file was found deleted or replaced and a new one was created (a metric). */
  readonly onRecreated?: (why: 'deleted' | 'replaced') => void;
}

export interface FileStore extends DeadLetterStore {
  readonly kind: 'file';
  readonly query: DeadLetterQueries;
  /** What the start-up scan found unreadable (also logged at error level). */
  readonly corruptAtOpen: readonly CorruptLine[];
}

export async function openFileStore(options: FileStoreOptions): Promise<FileStore> {
  const { path, log, onRecreated } = options;
  const fs = options.fs ?? nodeFileSystem;
  const store: StoreFile = { path, log, fs, onRecreated, current: await openFile(fs, path) };
  const corruptAtOpen = [...store.current.corrupt];
  reportCorrupt(log, path, corruptAtOpen, 'found at start-up');
  const writer = createFileWriter(store);
  return {
    kind: 'file',
    corruptAtOpen,
    query: fileQueries(store, writer),
    append: createAppend(store, writer),
    size: () => ({ bytes: store.current.end, records: store.current.index.count }),
    async close() {
      await writer.idle();
      await store.current.handle.close();
    },
  };
}
