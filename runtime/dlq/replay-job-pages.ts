// What a bulk replay job reads: how many dead letters it will go through (counted when it starts), and the
// dead letters themselves, a page at a time from its saved cursor, oldest first: by the list's filter, or the
// ids it was given in order. A database restarting meanwhile is waited for, about 30 s, before the job fails.
import type { ReplayJob } from './admin-state.js';
import type { DeadLetterQueries, LetterFilter, Page, PageRequest, StoredLetter } from './store.js';

/** The job's own view of "ids": a filter the page reader understands. */
export type JobWithIds = ReplayJob & { readonly ids?: readonly string[] };

export interface JobPage {
  readonly items: StoredLetter[];
  /** Listed ids that are not stored (purged since): counted as failed. */
  readonly missing: string[];
  /** The cursor after this page, saved once the whole page is done (null: it was the last one). */
  readonly next: string | null;
}

const pageSize = 100;
const countPage = 500;

/** Not forced: only the dead letters not replayed yet. */
function effectiveFilter(job: ReplayJob): LetterFilter {
  return job.force ? job.filter : { ...job.filter, replayed: false };
}

/** How a job waits between two tries at a page: the clock's sleep, passed in so tests need not wait. */
export type Sleep = (ms: number) => Promise<void>;

/** A database restarting: a page is tried every `pageRetryMs` for about 30 s before the job gives up (it can be resumed). */
export const pageRetryMs = 2000;

async function readPage(
  queries: DeadLetterQueries,
  request: PageRequest,
  signal: AbortSignal,
  sleep: Sleep,
): Promise<Page> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await queries.list(request);
    } catch (err) {
      if (attempt >= 15 || signal.aborted) throw err;
      await sleep(pageRetryMs);
    }
  }
}

export async function countJob(
  queries: DeadLetterQueries,
  job: JobWithIds,
  signal: AbortSignal,
  sleep: Sleep,
): Promise<number> {
  if (job.ids) return job.ids.length;
  let total = 0;
  let request: PageRequest = { filter: effectiveFilter(job), cursor: undefined, limit: countPage, order: 'oldest' };
  for (;;) {
    signal.throwIfAborted();
    const page = await readPage(queries, request, signal, sleep);
    total += page.items.length;
    if (page.nextCursor === null) return total;
    request = { ...request, cursor: page.nextCursor };
  }
}

/** The listed ids from the job's cursor (an index into the list), a page at a time. */
async function* pagesOfIds(
  queries: DeadLetterQueries,
  job: JobWithIds,
  ids: readonly string[],
): AsyncGenerator<JobPage> {
  let from = job.cursor === null ? 0 : Number(job.cursor);
  while (from < ids.length) {
    const slice = ids.slice(from, from + pageSize);
    const items: StoredLetter[] = [];
    const missing: string[] = [];
    for (const id of slice) {
      const stored = await queries.get(id);
      if (stored) items.push(stored);
      else missing.push(id);
    }
    from += slice.length;
    yield { items, missing, next: from < ids.length ? String(from) : null };
  }
}

/** Pages of dead letters from the job's cursor: by filter, or the listed ids in order. */
export async function* jobPages(
  queries: DeadLetterQueries,
  job: JobWithIds,
  signal: AbortSignal,
  sleep: Sleep,
): AsyncGenerator<JobPage> {
  if (job.ids) {
    yield* pagesOfIds(queries, job, job.ids);
    return;
  }
  let request: PageRequest = {
    filter: effectiveFilter(job),
    cursor: job.cursor ?? undefined,
    limit: pageSize,
    order: 'oldest',
  };
  for (;;) {
    const page = await readPage(queries, request, signal, sleep);
    yield { items: [...page.items], missing: [], next: page.nextCursor };
    if (page.nextCursor === null) return;
    request = { ...request, cursor: page.nextCursor };
  }
}
