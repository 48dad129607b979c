// The file store's in-memory index: for each dead-letter line, where it is in the file and 32-bit hashes
// of what the admin API looks up (id, type, source, code, destination, duplicate key), in typed arrays
// (~64 bytes a record: 1M records ≈ 64 MB, whatever the records' size). A hash only finds candidates;
// the caller reads the line and checks the real values, so a collision costs a read, never a wrong answer.
// Replay markers are indexed on the record they mark (the offset of the latest one).

export const fields = ['id', 'type', 'source', 'code', 'destination', 'duplicate'] as const;
export type Field = (typeof fields)[number];
/** [field number, hash] pairs for mayMatch. */
export function wantedHashes(values: FieldValues): Array<[number, number]> {
  return fields.flatMap((field, i): Array<[number, number]> =>
    values[field] === undefined ? [] : [[i, hash32(values[field])]],
  );
}
export type FieldValues = Readonly<Partial<Record<Field, string>>>;

const fieldCount = fields.length;
const idField = fields.indexOf('id');
const duplicateField = fields.indexOf('duplicate');
const none = -1;

/** FNV-1a over UTF-16 code units; 0 is kept for "no value". */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** Open addressing over record numbers, keyed by one field's hash. */
class HashTable {
  private slots = new Int32Array(1024).fill(none);
  private used = 0;
  constructor(private readonly keyOf: (record: number) => number) {}

  insert(record: number): void {
    if ((this.used + 1) * 2 > this.slots.length) this.grow();
    this.place(this.slots, record);
    this.used++;
  }

  /** Every record whose key hash equals `key`. */
  find(key: number): number[] {
    const out: number[] = [];
    const mask = this.slots.length - 1;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const record = this.slots[i] as number;
      if (record === none) return out;
      if (this.keyOf(record) === key) out.push(record);
    }
  }

  private place(slots: Int32Array, record: number): void {
    const mask = slots.length - 1;
    let i = this.keyOf(record) & mask;
    while (slots[i] !== none) i = (i + 1) & mask;
    slots[i] = record;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2).fill(none);
    for (const record of old) if (record !== none) this.place(this.slots, record);
  }
}

export class RecordIndex {
  count = 0;
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private hashes = new Uint32Array(1024 * fieldCount);
  private replays = new Float64Array(1024).fill(none);
  private replayLengths = new Uint32Array(1024);
  private readonly byId = new HashTable((r) => this.hashOf(r, idField));
  private readonly byDuplicate = new HashTable((r) => this.hashOf(r, duplicateField));

  private hashOf(record: number, field: number): number {
    return this.hashes[record * fieldCount + field] as number;
  }

  private grow(): void {
    const size = this.offsets.length * 2;
    const copy = <T extends Float64Array | Uint32Array>(old: T, make: (n: number) => T, n: number): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.offsets = copy(this.offsets, (n) => new Float64Array(n), size);
    this.lengths = copy(this.lengths, (n) => new Uint32Array(n), size);
    this.hashes = copy(this.hashes, (n) => new Uint32Array(n), size * fieldCount);
    const replays = new Float64Array(size).fill(none);
    replays.set(this.replays);
    this.replays = replays;
    this.replayLengths = copy(this.replayLengths, (n) => new Uint32Array(n), size);
  }

  /** Adds a dead letter's line; returns its record number (its position among dead letters, oldest 0). */
  add(offset: number, length: number, values: FieldValues): number {
    if (this.count === this.offsets.length) this.grow();
    const record = this.count++;
    this.offsets[record] = offset;
    this.lengths[record] = length;
    fields.forEach((field, i) => {
      const value = values[field];
      this.hashes[record * fieldCount + i] = value === undefined ? 0 : hash32(value);
    });
    this.byId.insert(record);
    if (values.duplicate !== undefined) this.byDuplicate.insert(record);
    return record;
  }

  line(record: number): { offset: number; length: number } {
    return { offset: this.offsets[record] as number, length: this.lengths[record] as number };
  }

  setReplay(record: number, offset: number, length: number): void {
    this.replays[record] = offset;
    this.replayLengths[record] = length;
  }

  /** Where the record's latest replay marker is, or undefined. */
  replay(record: number): { offset: number; length: number } | undefined {
    const offset = this.replays[record] as number;
    return offset === none ? undefined : { offset, length: this.replayLengths[record] as number };
  }

  candidatesById(id: string): number[] {
    return this.byId.find(hash32(id));
  }

  candidatesByDuplicateKey(key: string): number[] {
    return this.byDuplicate.find(hash32(key));
  }

  /** A cheap pre-check of a filter on the hashes; the caller confirms on the record itself. */
  mayMatch(
    record: number,
    wanted: ReadonlyArray<readonly [field: number, hash: number]>,
    replayed: boolean | undefined,
  ): boolean {
    if (replayed !== undefined && (this.replays[record] !== none) !== replayed) return false;
    for (const [field, h] of wanted) if (this.hashOf(record, field) !== h) return false;
    return true;
  }
}
