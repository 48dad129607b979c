// The admin API's reads and marks on the file store: a page of dead letters found through the index (only the
// lines returned are read from the file), one by id, and the replay and purge markers (written through the
// group commit of file-writer.ts).
import { wantedHashes } from './file-index.js';
import { readLetter, readMarker, recordOf, type OpenFile, type StoreFile } from './file-open.js';
import type { FileWriter } from './file-writer.js';
import { letterMatches, type DeadLetterQueries, type Page, type PageRequest, type StoredLetter } from './store.js';

async function storedAt(current: OpenFile, record: number): Promise<StoredLetter | undefined> {
  if (current.purged.has(record)) return undefined;
  const letter = await readLetter(current, record);
  return letter ? { letter, replayed: await readMarker(current, record) } : undefined;
}

async function listPage(current: OpenFile, request: PageRequest): Promise<Page> {
  const { filter, limit } = request;
  const step = request.order === 'newest' ? -1 : 1;
  const { type, source, code, destination } = filter;
  const wanted = wantedHashes({ type, source, code, destination });
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
}

async function purge(
  current: OpenFile,
  writer: FileWriter,
  ids: readonly string[],
  purgedAt: string,
): Promise<string[]> {
  const removed: string[] = [];
  const writes: Array<Promise<void>> = [];
  for (const id of new Set(ids)) {
    const record = await recordOf(current, id);
    if (record === undefined || current.purged.has(record)) continue;
    removed.push(id);
    writes.push(writer.write({ kind: 'purged', id, purgedAt }, { purges: record }));
  }
  // One group commit for the lot; resolved once every marker is fsynced.
  await Promise.all(writes);
  return removed;
}

export function fileQueries(store: StoreFile, writer: FileWriter): DeadLetterQueries {
  return {
    list: (request) => listPage(store.current, request),
    async get(id) {
      const current = store.current;
      const record = await recordOf(current, id);
      return record === undefined ? undefined : storedAt(current, record);
    },
    async markReplayed(marker) {
      const record = await recordOf(store.current, marker.id);
      if (record === undefined) throw new Error(`dead-letter store: no dead letter ${marker.id} to mark as replayed`);
      await writer.write(marker, { marks: record });
    },
    purge: (ids, purgedAt) => purge(store.current, writer, ids, purgedAt),
    corrupt: () => store.current.corrupt,
    validCursor: (cursor) => /^\d{1,15}$/.test(cursor),
  };
}
