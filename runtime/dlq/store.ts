// Where dead letters go, and how the admin API reads them back. `append` resolves only once the record is
// durable (the file is fsynced, the database transaction committed, or the KafkaSink answered 2xx): the
// role answers 2xx after it and never before.
//
// Reading is a query interface, not "give me everything": a request costs a page, whatever the store's size.
// A store that cannot be read back (kafka-sink) has no `query`.
import type { DeadLetter, ReplayMarker } from './record.js';

/** A line of the file store that could not be read back: reported, never skipped in silence. */
export interface CorruptLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** Byte offset of the line's start. */
  readonly offset: number;
  readonly reason: string;
  /** The first characters of the line, for a person to recognise it. */
  readonly preview: string;
}

/** What GET /dead-letters filters on; every given field must match exactly. */
export interface LetterFilter {
  readonly type?: string;
  readonly source?: string;
  readonly code?: string;
  readonly destination?: string;
  readonly replayed?: boolean;
  /** Received at or after this time (ISO 8601). */
  readonly receivedFrom?: string;
  /** Received before this time (ISO 8601). */
  readonly receivedTo?: string;
}

/** A dead letter with its latest replay marker (null when it was never replayed). */
export interface StoredLetter {
  readonly letter: DeadLetter;
  readonly replayed: ReplayMarker | null;
}

export interface PageRequest {
  readonly filter: LetterFilter;
  /** A `nextCursor` from the previous page of the same order; undefined for the first page. */
  readonly cursor: string | undefined;
  readonly limit: number;
  /** newest first (the admin list) or oldest first (batch replay). */
  readonly order: 'newest' | 'oldest';
}

export interface Page {
  readonly items: readonly StoredLetter[];
  /** Opaque; null when nothing more matches. */
  readonly nextCursor: string | null;
}

export interface DeadLetterQueries {
  /** Keyset paging: the cost of a page does not depend on how many dead letters are stored. */
  list(request: PageRequest): Promise<Page>;
  get(id: string): Promise<StoredLetter | undefined>;
  markReplayed(marker: ReplayMarker): Promise<void>;
  /** Removes these dead letters (purge, dlq/purge.ts); resolves with the ids that were there and are gone now. */
  purge(ids: readonly string[], purgedAt: string): Promise<string[]>;
  /** Lines the store could not read (file store); always empty for a database. */
  corrupt(): readonly CorruptLine[];
  /** True when `cursor` could have come from this store's `nextCursor` (a bad one is a 400). */
  validCursor(cursor: string): boolean;
}

export interface AppendResult {
  /** The stored dead letter's id: the new one, or the one already stored for a duplicate. */
  readonly id: string;
  readonly duplicate: boolean;
}

export interface DeadLetterStore {
  readonly kind: 'file' | 'postgres' | 'kafka-sink';
  append(letter: DeadLetter): Promise<AppendResult>;
  /** Size after the last write, when the store can tell (the file store can; a topic or a database does not). */
  size(): { bytes: number; records: number } | undefined;
  /** Undefined when the store cannot be read back (a KafkaSink topic). */
  readonly query?: DeadLetterQueries;
  /** Why the store cannot take dead letters right now (readiness), or undefined when it can. */
  notReady?(): string | undefined;
  close(): Promise<void>;
}

/** Whether a dead letter passes a filter (the file store's scan; the PostgreSQL store's check of a page's rows). */
export function letterMatches(letter: DeadLetter, filter: LetterFilter): boolean {
  return (
    (filter.type === undefined || letter.event.type === filter.type) &&
    (filter.source === undefined || letter.event.source === filter.source) &&
    (filter.code === undefined || letter.error.code === filter.code) &&
    (filter.destination === undefined || letter.error.destination === filter.destination) &&
    (filter.receivedFrom === undefined || Date.parse(letter.receivedAt) >= Date.parse(filter.receivedFrom)) &&
    (filter.receivedTo === undefined || Date.parse(letter.receivedAt) < Date.parse(filter.receivedTo))
  );
}
