// Appending a dead letter to the file store, once: a repeated delivery of a dead letter that is stored and not
// replayed yet (record.ts duplicateKey) answers with the stored id instead of a second line, whether the first
// one is on disk already (found through the index) or still being written (the same promise).
import { indexValues, readLetter, type StoreFile } from './file-open.js';
import type { FileWriter } from './file-writer.js';
import { duplicateKey, type DeadLetter } from './record.js';
import type { AppendResult } from './store.js';

/** The stored, not yet replayed dead letter that `key` duplicates, if any. */
async function findDuplicate(store: StoreFile, key: string): Promise<string | undefined> {
  const current = store.current;
  for (const record of current.index.candidatesByDuplicateKey(key)) {
    if (current.index.replay(record) || current.purged.has(record)) continue;
    const letter = await readLetter(current, record);
    if (letter && duplicateKey(letter) === key) return letter.id;
  }
  return undefined;
}

export function createAppend(store: StoreFile, writer: FileWriter): (letter: DeadLetter) => Promise<AppendResult> {
  const appending = new Map<string, Promise<AppendResult>>();
  return (letter) => {
    const key = duplicateKey(letter);
    const same = key === undefined ? undefined : appending.get(key);
    if (same) return same.then((r) => ({ id: r.id, duplicate: true }));
    const work = (async (): Promise<AppendResult> => {
      const existing = key === undefined ? undefined : await findDuplicate(store, key);
      if (existing !== undefined) return { id: existing, duplicate: true };
      await writer.write(letter, { values: indexValues(letter) });
      return { id: letter.id, duplicate: false };
    })();
    if (key !== undefined) {
      appending.set(key, work);
      const done = () => appending.delete(key);
      work.then(done, done);
    }
    return work;
  };
}
