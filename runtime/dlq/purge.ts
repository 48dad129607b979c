// Purge: remove dead letters for good, by id or by filter (the list's filters, a received-time range for
// retention), always with a dry run that counts first. The file store writes a purge marker per dead letter
// (the bytes stay in the file until it is rotated; nothing lists, shows or replays them again); PostgreSQL
// deletes the rows.
import type { DeadLetterQueries, LetterFilter, PageRequest, StoredLetter } from './store.js';

const batch = 500;
const sampleSize = 20;

export interface PurgePlan {
  readonly count: number;
  /** The first matches (oldest first), for a person to check before purging. */
  readonly sample: readonly StoredLetter[];
}

/** Dry run: how many a purge would remove (ids that exist, or filter matches), and the first few. */
export async function planPurge(
  queries: DeadLetterQueries,
  target: { ids: readonly string[] } | { filter: LetterFilter },
): Promise<PurgePlan> {
  if ('ids' in target) {
    const found: StoredLetter[] = [];
    for (const id of new Set(target.ids)) {
      const stored = await queries.get(id);
      if (stored) found.push(stored);
    }
    return { count: found.length, sample: found.slice(0, sampleSize) };
  }
  let count = 0;
  const sample: StoredLetter[] = [];
  let request: PageRequest = { filter: target.filter, cursor: undefined, limit: batch, order: 'oldest' };
  for (;;) {
    const page = await queries.list(request);
    count += page.items.length;
    for (const item of page.items) if (sample.length < sampleSize) sample.push(item);
    if (page.nextCursor === null) return { count, sample };
    request = { ...request, cursor: page.nextCursor };
  }
}

/** Removes them, a batch at a time; resolves with how many were removed. */
export async function purge(
  queries: DeadLetterQueries,
  target: { ids: readonly string[] } | { filter: LetterFilter },
  purgedAt: string,
): Promise<number> {
  if ('ids' in target) return (await queries.purge([...new Set(target.ids)], purgedAt)).length;
  let removed = 0;
  let request: PageRequest = { filter: target.filter, cursor: undefined, limit: batch, order: 'oldest' };
  for (;;) {
    const page = await queries.list(request);
    removed += (
      await queries.purge(
        page.items.map((item) => item.letter.id),
        purgedAt,
      )
    ).length;
    if (page.nextCursor === null) return removed;
    request = { ...request, cursor: page.nextCursor };
  }
}
