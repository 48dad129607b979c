// What the admin API keeps besides the dead letters themselves: bulk replay jobs (their latest state, so
// progress survives a restart of the dlq and every replica can answer for a job) and the audit log of every
// replay and purge. Kept where the dead letters are: beside the file store (a JSON-lines file of its own), or
// in the same PostgreSQL schema (admin-state-postgres.ts).
import { open, rename } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { LetterFilter } from './store.js';

/** Who did it: the label the caller gave (X-Dlq-Caller) and which admin token (a fingerprint, never the token). */
export interface Caller {
  readonly label: string;
  readonly token: string;
}

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly action: 'replay' | 'replay-job' | 'replay-job-end' | 'replay-job-cancel' | 'replay-job-resume' | 'purge';
  readonly caller: Caller;
  /** What was asked: ids or a filter, the target, dry run or not. */
  readonly what: Readonly<Record<string, unknown>>;
  /** What came of it: counts, statuses, the error. */
  readonly result: Readonly<Record<string, unknown>>;
}

export type JobState = 'counting' | 'running' | 'done' | 'cancelled' | 'failed' | 'interrupted';

export interface JobFailure {
  readonly id: string;
  readonly eventId: string | null;
  readonly message: string;
}

export interface ReplayJob {
  readonly id: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Written every second by the process running it; a running job whose heartbeat stopped was interrupted. */
  readonly heartbeatAt: string;
  /** The process running it (a random id per process). */
  readonly owner: string;
  readonly state: JobState;
  readonly filter: LetterFilter;
  /** destination, broker or an allow-listed URL. */
  readonly to: string;
  /** Events per second. */
  readonly rate: number;
  /** Replay dead letters that were replayed before too. */
  readonly force: boolean;
  readonly caller: Caller;
  /** Matches when the job started; null while counting. */
  readonly total: number | null;
  /** Dead letters handled so far (replayed + skipped + failed). */
  readonly done: number;
  readonly replayed: number;
  /** Already replayed (by another job or a single replay) and not forced. */
  readonly skipped: number;
  readonly failed: number;
  /** The first failures, with why (at most maxFailuresKept). */
  readonly failures: readonly JobFailure[];
  /** Where to go on from: the list cursor after the last dead letter handled (oldest first). */
  readonly cursor: string | null;
  readonly cancelRequested: boolean;
  /** Why it stopped, when it did not finish (failed, interrupted). */
  readonly reason?: string;
  readonly finishedAt?: string;
}

export const maxFailuresKept = 200;

export interface AuditPage {
  readonly items: readonly AuditEntry[];
  readonly nextCursor: string | null;
}

export interface AdminState {
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  listAudit(limit: number, cursor: string | undefined): Promise<AuditPage>;
  validAuditCursor(cursor: string): boolean;
  saveJob(job: ReplayJob): Promise<void>;
  getJob(id: string): Promise<ReplayJob | undefined>;
  /** Newest first. */
  listJobs(limit: number): Promise<ReplayJob[]>;
  close(): Promise<void>;
}

/** The admin file beside a file store: dead-letters.jsonl → dead-letters.admin.jsonl. */
export function adminFileFor(storeFile: string): string {
  const name = basename(storeFile);
  const stem = name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : name;
  return join(dirname(storeFile), `${stem}.admin.jsonl`);
}

type AdminLine = ({ kind: 'audit' } & AuditEntry) | ({ kind: 'job' } & ReplayJob);

/** What the admin API reads: the audit log in order and each job's latest state, both in memory. */
interface AdminRecords {
  readonly audit: AuditEntry[];
  readonly jobs: Map<string, ReplayJob>;
}

/** The admin file's lines, in order: the latest line of a job wins. */
function readAdminLines(text: string): AdminRecords {
  const records: AdminRecords = { audit: [], jobs: new Map() };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: AdminLine;
    try {
      parsed = JSON.parse(line) as AdminLine;
    } catch {
      continue; // a line cut short by a crash: the entry before it stands
    }
    if (parsed.kind === 'audit') {
      const { kind: _kind, ...entry } = parsed;
      records.audit.push(entry);
    } else if (parsed.kind === 'job') {
      const { kind: _kind, ...job } = parsed;
      records.jobs.set(job.id, job);
    }
  }
  return records;
}

/** Newest first, a page of `limit` before the cursor (an index into the log, oldest 0). */
function auditPage(audit: readonly AuditEntry[], limit: number, cursor: string | undefined): AuditPage {
  const end = cursor === undefined ? audit.length : Number(cursor);
  const start = Math.max(0, end - limit);
  return { items: audit.slice(start, end).reverse(), nextCursor: start > 0 ? String(start) : null };
}

const validAuditCursor = (cursor: string) => /^\d{1,15}$/.test(cursor);

/** Writes `lines` to a new file, fsynced, then renames it over `path`: a crash leaves one or the other, whole. */
async function replaceFile(path: string, lines: readonly object[]): Promise<void> {
  const temporary = `${path}.compacting`;
  const out = await open(temporary, 'w', 0o600);
  try {
    await out.writeFile(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(temporary, path);
}

/** The admin file, appended a line at a time (in order, each fsynced) and compacted once it has grown enough. */
async function openAdminFile(path: string, compactAfterBytes: number) {
  let handle = await open(path, 'a+', 0o600);
  const text = (await handle.readFile()).toString('utf8');
  const records = readAdminLines(text);
  // A line cut short by a crash: the next one starts on a line of its own.
  let needsNewline = text.length > 0 && !text.endsWith('\n');
  let writing: Promise<void> = Promise.resolve();
  let grown = 0;

  async function compact(): Promise<void> {
    const { audit, jobs } = records;
    await replaceFile(path, [
      ...audit.map((entry) => ({ kind: 'audit', ...entry })),
      ...[...jobs.values()].map((job) => ({ kind: 'job', ...job })),
    ]);
    // From here on the path is the new file: append to it whatever happens next.
    await handle.close().catch(() => undefined);
    handle = await open(path, 'a+', 0o600);
    grown = 0;
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
  }

  return {
    records,
    write(line: AdminLine): Promise<void> {
      const next = writing.then(async () => {
        const bytes = `${needsNewline ? '\n' : ''}${JSON.stringify(line)}\n`;
        needsNewline = false;
        await handle.appendFile(bytes);
        await handle.sync();
        grown += Buffer.byteLength(bytes);
      });
      writing = next.catch(() => undefined);
      return next;
    },
    async compactIfGrown(): Promise<void> {
      if (grown <= compactAfterBytes) return;
      const run = writing.then(compact);
      writing = run.catch(() => undefined); // a failed compaction leaves the file as it was: appends go on
      await writing;
    },
    async close(): Promise<void> {
      await writing;
      await handle.close();
    },
  };
}

/**
 * The file store's admin state: one JSON line per audit entry and per job update (the latest line of a job
 * wins), appended and fsynced. Read once at start-up. A running job writes a line a second, so once the file
 * has grown by `compactAfterBytes` it is rewritten with the audit log and each job's latest line only
 * (a new file, fsynced, renamed over the old one: a crash leaves one or the other, whole).
 */
export async function openFileAdminState(path: string, compactAfterBytes = 4 * 1024 * 1024): Promise<AdminState> {
  const file = await openAdminFile(path, compactAfterBytes);
  const { audit, jobs } = file.records;
  return {
    async appendAudit(entry) {
      await file.write({ kind: 'audit', ...entry });
      audit.push(entry);
    },
    listAudit: (limit, cursor) => Promise.resolve(auditPage(audit, limit, cursor)),
    validAuditCursor,
    async saveJob(job) {
      await file.write({ kind: 'job', ...job });
      jobs.set(job.id, job);
      await file.compactIfGrown();
    },
    getJob: (id) => Promise.resolve(jobs.get(id)),
    listJobs: (limit) =>
      Promise.resolve([...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit)),
    close: () => file.close(),
  };
}

/** For a store that cannot be read back (kafka-sink): nothing to replay or purge, nothing to keep. */
export function memoryAdminState(): AdminState {
  const audit: AuditEntry[] = [];
  const jobs = new Map<string, ReplayJob>();
  return {
    appendAudit: (entry) => Promise.resolve(void audit.push(entry)),
    listAudit: (limit, cursor) => Promise.resolve(auditPage(audit, limit, cursor)),
    validAuditCursor,
    saveJob: (job) => Promise.resolve(void jobs.set(job.id, job)),
    getJob: (id) => Promise.resolve(jobs.get(id)),
    listJobs: (limit) => Promise.resolve([...jobs.values()].reverse().slice(0, limit)),
    close: () => Promise.resolve(),
  };
}
