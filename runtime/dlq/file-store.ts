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
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { RecordIndex, wantedHashes, type FieldValues } from './file-index.js';
import { scanLines } from './file-scan.js';
import { nodeFileSystem, type StoreFileHandle, type StoreFileSystem } from './file-system.js';
import { parseStoreLine, previewChars } from './parse-lines.js';
import { duplicateKey, type DeadLetter, type PurgeMarker, type ReplayMarker } from './record.js';
import type {
  AppendResult,
  CorruptLine,
  DeadLetterQueries,
  DeadLetterStore,
  LetterFilter,
  Page,
  PageRequest,
  StoredLetter,
} from './store.js';
import { letterMatches } from './store.js';

export type { StoreFileSystem, StoreFileHandle } from './file-system.js';

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

interface Pending {
  readonly bytes: Buffer;
  /** Index values for a dead letter; for a replay marker, the record it marks. */
  readonly values?: FieldValues;
  readonly marks?: number;
  /** For a purge marker, the record it removes. */
  readonly purges?: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** Everything that belongs to the file currently open; replaced whole when the file is recreated. */
interface OpenFile {
  readonly handle: StoreFileHandle;
  readonly ino: number;
  readonly dev: number;
  /** Bytes known and indexed: everything up to here is ours or has been scanned. */
  end: number;
  lines: number;
  readonly index: RecordIndex;
  readonly corrupt: CorruptLine[];
  corruptTotal: number;
  /** The last line has no newline (a crash, a failed write, a hand edit): the next write starts with one. */
  partial: { readonly offset: number; readonly line: number } | undefined;
  /** Records removed by a purge marker: no longer listed, shown or replayed (the bytes stay until the file is rotated). */
  readonly purged: Set<number>;
}

const reportedLinesMax = 20;
/** Corrupt lines kept for GET /dead-letters; more are counted and logged, not held in memory. */
const corruptKeptMax = 1000;
const newline = Buffer.from('\n');

export function reportCorrupt(log: Logger, path: string, corrupt: readonly CorruptLine[], when: string): void {
  if (corrupt.length === 0) return;
  for (const line of corrupt.slice(0, reportedLinesMax))
    log.error({ file: path, ...line }, `dead-letter store: unreadable line ${line.line} (${when})`);
  log.error(
    { file: path, corruptLines: corrupt.length, lines: corrupt.slice(0, corruptKeptMax).map((c) => c.line) },
    `dead-letter store ${path} has ${corrupt.length} unreadable line(s); they are kept in the file and listed by GET /dead-letters`,
  );
}

function indexValues(letter: DeadLetter): FieldValues {
  const text = (value: unknown) => (value === undefined || value === null ? undefined : String(value));
  return {
    id: letter.id,
    type: text(letter.event.type),
    source: text(letter.event.source),
    code: letter.error.code,
    destination: letter.error.destination,
    duplicate: duplicateKey(letter),
  };
}

async function readExactly(handle: StoreFileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0)
      throw new Error(`dead-letter store: unexpected end of file reading ${length} bytes at ${offset}`);
    done += bytesRead;
  }
  return buffer;
}

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

async function statIfExists(fs: StoreFileSystem, path: string) {
  try {
    return await fs.stat(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function openFileStore(options: FileStoreOptions): Promise<FileStore> {
  const { path, log } = options;
  const fs = options.fs ?? nodeFileSystem;

  /** A new file's directory entry must be durable too, or a crash can lose the whole file. */
  async function syncDirectory(): Promise<void> {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  function addCorrupt(file: OpenFile, entry: CorruptLine): void {
    file.corruptTotal++;
    if (file.corrupt.length < corruptKeptMax) file.corrupt.push(entry);
  }

  async function readLetter(file: OpenFile, record: number): Promise<DeadLetter | undefined> {
    const { offset, length } = file.index.line(record);
    const parsed = parseStoreLine((await readExactly(file.handle, offset, length)).toString('utf8'), true);
    return parsed && 'line' in parsed && parsed.line.kind === 'dead-letter' ? parsed.line : undefined;
  }

  async function readMarker(file: OpenFile, record: number): Promise<ReplayMarker | null> {
    const at = file.index.replay(record);
    if (!at) return null;
    const parsed = parseStoreLine((await readExactly(file.handle, at.offset, at.length)).toString('utf8'), true);
    return parsed && 'line' in parsed && parsed.line.kind === 'replayed' ? parsed.line : null;
  }

  /** The record holding dead letter `id`, confirmed on disk (a hash match alone could be a collision). */
  async function recordOf(file: OpenFile, id: string): Promise<number | undefined> {
    for (const record of file.index.candidatesById(id).sort((a, b) => b - a)) {
      if ((await readLetter(file, record))?.id === id) return record;
    }
    return undefined;
  }

  /** Indexes the lines in [from, to): start-up, and bytes appended by something else. */
  async function indexRange(file: OpenFile, from: number, to: number, firstLine: number): Promise<CorruptLine[]> {
    const found: CorruptLine[] = [];
    let lineNumber = firstLine;
    // Collected per chunk and handled in order; replay markers need reads, so they are resolved after.
    const markers: Array<{
      id: string;
      offset: number;
      length: number;
      line: number;
      preview: string;
      purge: boolean;
    }> = [];
    await scanLines(file.handle, from, to, (scanned) => {
      lineNumber++;
      const text = scanned.bytes.toString('utf8');
      if (!scanned.terminated) file.partial = { offset: scanned.offset, line: lineNumber };
      const parsed = parseStoreLine(text, scanned.terminated);
      if (!parsed) return;
      if ('reason' in parsed || !scanned.terminated) {
        const reason =
          'reason' in parsed
            ? parsed.reason
            : 'truncated: the last line has no newline (a write cut short or a hand edit)';
        const entry = { line: lineNumber, offset: scanned.offset, reason, preview: text.slice(0, previewChars) };
        found.push(entry);
        addCorrupt(file, entry);
        return;
      }
      if (parsed.line.kind === 'dead-letter')
        file.index.add(scanned.offset, scanned.bytes.length, indexValues(parsed.line));
      else
        markers.push({
          id: parsed.line.id,
          offset: scanned.offset,
          length: scanned.bytes.length,
          line: lineNumber,
          preview: text.slice(0, previewChars),
          purge: parsed.line.kind === 'purged',
        });
    });
    file.lines = lineNumber;
    for (const marker of markers) {
      const record = await recordOf(file, marker.id);
      if (record !== undefined) {
        if (marker.purge) file.purged.add(record);
        else file.index.setReplay(record, marker.offset, marker.length);
        continue;
      }
      if (marker.purge) continue; // purged twice (two replicas, a retry): the first one removed it
      const entry = {
        line: marker.line,
        offset: marker.offset,
        reason: `replay marker for dead letter ${marker.id}, which is not in the file`,
        preview: marker.preview,
      };
      found.push(entry);
      addCorrupt(file, entry);
    }
    return found;
  }

  async function openFile(): Promise<OpenFile> {
    const existed = (await statIfExists(fs, path)) !== undefined;
    // a+: every write appends, even if something else appended meanwhile; positional reads for queries.
    const handle = await fs.open(path, 'a+', 0o600);
    if (!existed) await syncDirectory();
    const { size, ino, dev } = await handle.stat();
    const file: OpenFile = {
      handle,
      ino,
      dev,
      end: 0,
      lines: 0,
      index: new RecordIndex(),
      corrupt: [],
      corruptTotal: 0,
      partial: undefined,
      purged: new Set(),
    };
    await indexRange(file, 0, size, 0);
    file.end = size;
    return file;
  }

  let file = await openFile();
  const corruptAtOpen = [...file.corrupt];
  reportCorrupt(log, path, corruptAtOpen, 'found at start-up');

  /** Is the file at the path still the one we hold (and does it end where we think)? */
  async function checkFile(): Promise<void> {
    const onDisk = await statIfExists(fs, path);
    if (!onDisk || onDisk.ino !== file.ino || onDisk.dev !== file.dev) {
      const why = onDisk ? 'replaced' : 'deleted';
      const old = file;
      file = await openFile();
      await old.handle.close().catch(() => undefined);
      log.error(
        { file: path, why, recordsInOldFile: old.index.count, recordsInNewFile: file.index.count },
        `dead-letter store: ${path} was ${why} while the dlq was running; the dead letters it held are no longer listed here. Writing to the file now at that path`,
      );
      reportCorrupt(log, path, file.corrupt, 'found in the new file');
      options.onRecreated?.(why);
      return;
    }
    await checkSize();
  }

  /** Before a write: does the file end where we think? If something else appended, index what it wrote. */
  async function checkSize(): Promise<void> {
    const { size } = await file.handle.stat();
    if (size === file.end) return;
    if (size < file.end) {
      log.error(
        { file: path, expectedBytes: file.end, bytes: size },
        'dead-letter store: the file shrank under the dlq (cut by hand?); indexing it again',
      );
      const old = file;
      file = await openFile();
      await old.handle.close().catch(() => undefined);
      return;
    }
    // Something else appended. A line that ended without a newline is read again with what followed it.
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
    log.warn(
      { file: path, from, bytes: size - from },
      'dead-letter store: bytes appended by something else were indexed',
    );
    reportCorrupt(log, path, found, 'appended while running');
    file.end = size;
  }

  /** After a failed write: cut back to the last good byte; failing that, the next write starts a new line. */
  async function repair(target: OpenFile, goodEnd: number): Promise<void> {
    try {
      await target.handle.truncate(goodEnd);
      await target.handle.sync();
    } catch (err) {
      // checkFile() will find the extra bytes, report them, and start the next record on a new line.
      log.error(
        { file: path, err },
        'dead-letter store: could not cut a failed write back; the next write starts on a new line',
      );
    }
  }

  async function stillLinked(target: OpenFile): Promise<boolean> {
    const onDisk = await statIfExists(fs, path);
    return onDisk !== undefined && onDisk.ino === target.ino && onDisk.dev === target.dev;
  }

  async function writeBatch(batch: readonly Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Whether the file was deleted or replaced is checked after the write (it has to be anyway: it can happen
      // during the write); before it, only where the file ends. One file system round trip less per batch.
      if (attempt === 1) await checkSize();
      else await checkFile();
      const target = file;
      const prefix = target.partial ? newline : Buffer.alloc(0);
      const bytes = Buffer.concat([prefix, ...batch.map((p) => p.bytes)]);
      const start = target.end;
      try {
        await writeAll(target.handle, bytes);
        await target.handle.sync();
      } catch (err) {
        await repair(target, start);
        throw err;
      }
      if (!(await stillLinked(target))) {
        // Written and synced into a file nobody will read again: write it to the new file instead.
        log.error(
          { file: path, attempt },
          'dead-letter store: the file was deleted or replaced during a write; writing the batch again',
        );
        if (attempt >= 3) throw new Error(`dead-letter store: ${path} keeps being deleted or replaced`);
        continue;
      }
      let offset = start + prefix.length;
      for (const p of batch) {
        const length = p.bytes.length - 1;
        if (p.values) target.index.add(offset, length, p.values);
        else if (p.marks !== undefined && p.marks < target.index.count) target.index.setReplay(p.marks, offset, length);
        else if (p.purges !== undefined && p.purges < target.index.count) target.purged.add(p.purges);
        offset += p.bytes.length;
      }
      target.lines += batch.length;
      target.end = start + bytes.length;
      target.partial = undefined;
      return;
    }
  }

  let queue: Pending[] = [];
  let flushing: Promise<void> | undefined;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await writeBatch(batch);
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    flushing = undefined;
  }

  function enqueue(
    line: DeadLetter | ReplayMarker | PurgeMarker,
    extra: { values?: FieldValues; marks?: number; purges?: number },
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ bytes: Buffer.from(`${JSON.stringify(line)}\n`), ...extra, resolve, reject });
      flushing ??= flush();
    });
  }

  /** The stored, not yet replayed dead letter that `key` duplicates, if any. */
  async function findDuplicate(key: string): Promise<string | undefined> {
    const current = file;
    for (const record of current.index.candidatesByDuplicateKey(key)) {
      if (current.index.replay(record) || current.purged.has(record)) continue;
      const letter = await readLetter(current, record);
      if (letter && duplicateKey(letter) === key) return letter.id;
    }
    return undefined;
  }

  const appending = new Map<string, Promise<AppendResult>>();

  function append(letter: DeadLetter): Promise<AppendResult> {
    const key = duplicateKey(letter);
    const same = key === undefined ? undefined : appending.get(key);
    if (same) return same.then((r) => ({ id: r.id, duplicate: true }));
    const work = (async (): Promise<AppendResult> => {
      const existing = key === undefined ? undefined : await findDuplicate(key);
      if (existing !== undefined) return { id: existing, duplicate: true };
      await enqueue(letter, { values: indexValues(letter) });
      return { id: letter.id, duplicate: false };
    })();
    if (key !== undefined) {
      appending.set(key, work);
      const done = () => appending.delete(key);
      work.then(done, done);
    }
    return work;
  }

  async function storedAt(current: OpenFile, record: number): Promise<StoredLetter | undefined> {
    if (current.purged.has(record)) return undefined;
    const letter = await readLetter(current, record);
    return letter ? { letter, replayed: await readMarker(current, record) } : undefined;
  }

  const query: DeadLetterQueries = {
    async list(request: PageRequest): Promise<Page> {
      const current = file;
      const { filter, limit } = request;
      const step = request.order === 'newest' ? -1 : 1;
      const wanted = wantedHashes({
        type: filter.type,
        source: filter.source,
        code: filter.code,
        destination: filter.destination,
      });
      const count = current.index.count;
      const items: StoredLetter[] = [];
      let position = (request.cursor === undefined ? (step < 0 ? count : -1) : Number(request.cursor)) + step;
      let last = -1;
      let more = false;
      // Candidates from the index, read from the file together (one round of reads instead of one per line);
      // the one after the page only tells whether there is more.
      while (!more && position >= 0 && position < count) {
        const candidates: number[] = [];
        for (; candidates.length < limit + 1 - items.length && position >= 0 && position < count; position += step) {
          if (current.index.mayMatch(position, wanted, filter.replayed)) candidates.push(position);
        }
        const read = await Promise.all(candidates.map((record) => storedAt(current, record)));
        for (const [i, stored] of read.entries()) {
          if (!stored || !letterMatches(stored.letter, filter)) continue;
          if (items.length === limit) {
            more = true;
            break;
          }
          items.push(stored);
          last = candidates[i] as number;
        }
      }
      return { items, nextCursor: more ? String(last) : null };
    },
    async get(id) {
      const current = file;
      const record = await recordOf(current, id);
      return record === undefined ? undefined : storedAt(current, record);
    },
    async markReplayed(marker) {
      const record = await recordOf(file, marker.id);
      if (record === undefined) throw new Error(`dead-letter store: no dead letter ${marker.id} to mark as replayed`);
      await enqueue(marker, { marks: record });
    },
    async purge(ids, purgedAt) {
      const current = file;
      const removed: string[] = [];
      const writes: Array<Promise<void>> = [];
      for (const id of new Set(ids)) {
        const record = await recordOf(current, id);
        if (record === undefined || current.purged.has(record)) continue;
        removed.push(id);
        writes.push(enqueue({ kind: 'purged', id, purgedAt }, { purges: record }));
      }
      // One group commit for the lot; resolved once every marker is fsynced.
      await Promise.all(writes);
      return removed;
    },
    corrupt: () => file.corrupt,
    validCursor: (cursor) => /^\d{1,15}$/.test(cursor),
  };

  return {
    kind: 'file',
    corruptAtOpen,
    query,
    append,
    size: () => ({ bytes: file.end, records: file.index.count }),
    async close() {
      await flushing;
      await file.handle.close();
    },
  };
}
