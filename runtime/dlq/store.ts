// Where dead letters go. `append` resolves only once the record is durable (the file is fsynced, or the
// KafkaSink answered 2xx): the role answers 2xx after it and never before.
import type { DeadLetter, ReplayMarker } from './record.js';

/** A line of the store that could not be read back: reported, never skipped in silence. */
export interface CorruptLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** Byte offset of the line's start. */
  readonly offset: number;
  readonly reason: string;
  /** The first characters of the line, for a person to recognise it. */
  readonly preview: string;
}

export interface StoreContents {
  /** Oldest first, as appended. */
  readonly letters: readonly DeadLetter[];
  /** Replay markers by dead-letter id (the latest one). */
  readonly replays: ReadonlyMap<string, ReplayMarker>;
  readonly corrupt: readonly CorruptLine[];
}

export interface DeadLetterStore {
  readonly kind: 'file' | 'kafka-sink';
  append(letter: DeadLetter): Promise<void>;
  /** Size after the last write, when the store can tell (the file store can, a topic cannot). */
  size(): { bytes: number; records: number } | undefined;
  /** Everything stored, for the admin API; undefined when the store cannot be read back. */
  read?(): Promise<StoreContents>;
  markReplayed?(marker: ReplayMarker): Promise<void>;
  close(): Promise<void>;
}
