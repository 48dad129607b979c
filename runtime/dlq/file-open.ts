// The file store's open file and how it is read: opening it (a+), the scan that indexes its lines
// (file-index.ts) at start-up and after a foreign append, and reading one record back by its index entry.
// The writer (file-writer.ts), the guard (file-guard.ts) and the queries (file-query.ts) share one StoreFile,
// whose `current` is replaced whole when the file at the path is recreated.
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { RecordIndex, type FieldValues } from './file-index.js';
import { scanLines, type ScannedLine } from './file-scan.js';
import type { StoreFileHandle, StoreFileSystem } from './file-system.js';
import { parseStoreLine, previewChars } from './parse-lines.js';
import { attributeText, duplicateKey, type DeadLetter, type ReplayMarker } from './record.js';
import type { CorruptLine } from './store.js';

/** Everything that belongs to the file currently open; replaced whole when the file is recreated. */
export interface OpenFile {
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

/** What the store's parts share: where the file is, and the file open now. */
export interface StoreFile {
  readonly path: string;
  readonly log: Logger;
  readonly fs: StoreFileSystem;
  /** Called when the file was found deleted or replaced and a new one was created (a metric). */
  readonly onRecreated?: (why: 'deleted' | 'replaced') => void;
  current: OpenFile;
}

const reportedLinesMax = 20;
/** Corrupt lines kept for GET /dead-letters; more are counted and logged, not held in memory. */
const corruptKeptMax = 1000;

export function reportCorrupt(log: Logger, path: string, corrupt: readonly CorruptLine[], when: string): void {
  if (corrupt.length === 0) return;
  for (const line of corrupt.slice(0, reportedLinesMax))
    log.error({ file: path, ...line }, `dead-letter store: unreadable line ${line.line} (${when})`);
  log.error(
    { file: path, corruptLines: corrupt.length, lines: corrupt.slice(0, corruptKeptMax).map((c) => c.line) },
    `dead-letter store ${path} has ${corrupt.length} unreadable line(s); they are kept in the file and listed by GET /dead-letters`,
  );
}

/** What the index keeps of a dead letter (as hashes: a filter or a duplicate is confirmed on the line itself). */
export function indexValues(letter: DeadLetter): FieldValues {
  return {
    id: letter.id,
    type: attributeText(letter.event.type),
    source: attributeText(letter.event.source),
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

export async function statIfExists(fs: StoreFileSystem, path: string) {
  try {
    return await fs.stat(path);
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

function addCorrupt(file: OpenFile, entry: CorruptLine): void {
  file.corruptTotal++;
  if (file.corrupt.length < corruptKeptMax) file.corrupt.push(entry);
}

export async function readLetter(file: OpenFile, record: number): Promise<DeadLetter | undefined> {
  const { offset, length } = file.index.line(record);
  const parsed = parseStoreLine((await readExactly(file.handle, offset, length)).toString('utf8'), true);
  return parsed && 'line' in parsed && parsed.line.kind === 'dead-letter' ? parsed.line : undefined;
}

export async function readMarker(file: OpenFile, record: number): Promise<ReplayMarker | null> {
  const at = file.index.replay(record);
  if (!at) return null;
  const parsed = parseStoreLine((await readExactly(file.handle, at.offset, at.length)).toString('utf8'), true);
  return parsed && 'line' in parsed && parsed.line.kind === 'replayed' ? parsed.line : null;
}

/** The record holding dead letter `id`, confirmed on disk (a hash match alone could be a collision). */
export async function recordOf(file: OpenFile, id: string): Promise<number | undefined> {
  for (const record of file.index.candidatesById(id).sort((a, b) => b - a)) {
    if ((await readLetter(file, record))?.id === id) return record;
  }
  return undefined;
}

/** A replay or purge marker met by the scan: which record it marks needs reads, so it is resolved after. */
interface MarkerLine {
  readonly id: string;
  readonly offset: number;
  readonly length: number;
  readonly line: number;
  readonly preview: string;
  readonly purge: boolean;
}

/** One scanned line into the index (a dead letter), the markers (for later) or the corrupt lines (returned). */
function indexLine(file: OpenFile, scanned: ScannedLine, line: number, markers: MarkerLine[]): CorruptLine | undefined {
  const text = scanned.bytes.toString('utf8');
  if (!scanned.terminated) file.partial = { offset: scanned.offset, line };
  const parsed = parseStoreLine(text, scanned.terminated);
  if (!parsed) return undefined;
  if ('reason' in parsed || !scanned.terminated) {
    const reason =
      'reason' in parsed ? parsed.reason : 'truncated: the last line has no newline (a write cut short or a hand edit)';
    return { line, offset: scanned.offset, reason, preview: text.slice(0, previewChars) };
  }
  if (parsed.line.kind === 'dead-letter')
    file.index.add(scanned.offset, scanned.bytes.length, indexValues(parsed.line));
  else
    markers.push({
      id: parsed.line.id,
      offset: scanned.offset,
      length: scanned.bytes.length,
      line,
      preview: text.slice(0, previewChars),
      purge: parsed.line.kind === 'purged',
    });
  return undefined;
}

/** A marker onto the record it marks; a replay marker for a dead letter not in the file is a corrupt line. */
async function applyMarker(file: OpenFile, marker: MarkerLine): Promise<CorruptLine | undefined> {
  const record = await recordOf(file, marker.id);
  if (record !== undefined) {
    if (marker.purge) file.purged.add(record);
    else file.index.setReplay(record, marker.offset, marker.length);
    return undefined;
  }
  if (marker.purge) return undefined; // purged twice (two replicas, a retry): the first one removed it
  return {
    line: marker.line,
    offset: marker.offset,
    reason: `replay marker for dead letter ${marker.id}, which is not in the file`,
    preview: marker.preview,
  };
}

/** Indexes the lines in [from, to): start-up, and bytes appended by something else. */
export async function indexRange(file: OpenFile, from: number, to: number, firstLine: number): Promise<CorruptLine[]> {
  const found: CorruptLine[] = [];
  const report = (entry: CorruptLine | undefined) => {
    if (!entry) return;
    found.push(entry);
    addCorrupt(file, entry);
  };
  let lineNumber = firstLine;
  const markers: MarkerLine[] = [];
  await scanLines(file.handle, from, to, (scanned) => report(indexLine(file, scanned, ++lineNumber, markers)));
  file.lines = lineNumber;
  for (const marker of markers) report(await applyMarker(file, marker));
  return found;
}

/** Opens (or creates) the file at `path` and indexes all of it. */
export async function openFile(fs: StoreFileSystem, path: string): Promise<OpenFile> {
  const existed = (await statIfExists(fs, path)) !== undefined;
  // a+: every write appends, even if something else appended meanwhile; positional reads for queries.
  const handle = await fs.open(path, 'a+', 0o600);
  if (!existed) await syncDirectory(fs, path);
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
