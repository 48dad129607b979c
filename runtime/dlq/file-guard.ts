// The file store's checks around every write, and its repair after a failed one. The file at the path may have
// been deleted or replaced (its inode changed), cut short, or appended to by something else (a hand edit); a
// write may fail half-way (a full disk). Each is found here and handled so that an acknowledged dead letter is
// always in the file the store reads, and a record never shares a line (test/dlq-file-store.test.ts).
import { indexRange, openFile, reportCorrupt, statIfExists, type OpenFile, type StoreFile } from './file-open.js';

/** Opens the file now at the path in place of the one held; returns the old one (closed). */
async function reopen(store: StoreFile): Promise<OpenFile> {
  const old = store.current;
  store.current = await openFile(store.fs, store.path);
  await old.handle.close().catch(() => undefined);
  return old;
}

/** Is the file at the path still the one we hold (and does it end where we think)? */
export async function checkFile(store: StoreFile): Promise<void> {
  const { path, log } = store;
  const onDisk = await statIfExists(store.fs, path);
  const held = store.current;
  if (onDisk && onDisk.ino === held.ino && onDisk.dev === held.dev) return checkSize(store);
  const why = onDisk ? 'replaced' : 'deleted';
  const old = await reopen(store);
  log.error(
    { file: path, why, recordsInOldFile: old.index.count, recordsInNewFile: store.current.index.count },
    `dead-letter store: ${path} was ${why} while the dlq was running; the dead letters it held are no longer listed here. Writing to the file now at that path`,
  );
  reportCorrupt(log, path, store.current.corrupt, 'found in the new file');
  store.onRecreated?.(why);
}

/** Before a write: does the file end where we think? If something else appended, index what it wrote. */
export async function checkSize(store: StoreFile): Promise<void> {
  const { size } = await store.current.handle.stat();
  if (size === store.current.end) return;
  if (size < store.current.end) {
    store.log.error(
      { file: store.path, expectedBytes: store.current.end, bytes: size },
      'dead-letter store: the file shrank under the dlq (cut by hand?); indexing it again',
    );
    await reopen(store);
    return;
  }
  await indexForeignBytes(store, size);
}

/** Something else appended. A line that ended without a newline is read again with what followed it. */
async function indexForeignBytes(store: StoreFile, size: number): Promise<void> {
  const file = store.current;
  let from = file.end;
  let firstLine = file.lines;
  if (file.partial) {
    from = file.partial.offset;
    firstLine = file.partial.line - 1;
    if (file.corrupt.at(-1)?.offset === from) {
      file.corrupt.pop();
      file.corruptTotal--;
    }
    file.partial = undefined;
  }
  const found = await indexRange(file, from, size, firstLine);
  store.log.warn(
    { file: store.path, from, bytes: size - from },
    'dead-letter store: bytes appended by something else were indexed',
  );
  reportCorrupt(store.log, store.path, found, 'appended while running');
  file.end = size;
}

/** After a failed write: cut back to the last good byte; failing that, the next write starts a new line. */
export async function repair(store: StoreFile, target: OpenFile, goodEnd: number): Promise<void> {
  try {
    await target.handle.truncate(goodEnd);
    await target.handle.sync();
  } catch (err) {
    // checkFile() will find the extra bytes, report them, and start the next record on a new line.
    store.log.error(
      { file: store.path, err },
      'dead-letter store: could not cut a failed write back; the next write starts on a new line',
    );
  }
}

/** Is `target` still the file at the path (not deleted or replaced during the write)? */
export async function stillLinked(store: StoreFile, target: OpenFile): Promise<boolean> {
  const onDisk = await statIfExists(store.fs, store.path);
  return onDisk !== undefined && onDisk.ino === target.ino && onDisk.dev === target.dev;
}
