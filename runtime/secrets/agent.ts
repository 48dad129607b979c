// Agent mode: the Vault agent injector renders secrets into files in VAULT_SECRETS_DIR. All of them are read
// at start-up (a malformed file stops the start: better than running with half the secrets), then re-read
// whenever the directory changes (the agent renames a new file into place) and on a fallback interval,
// since fs.watch can miss events on some volumes. A failed re-read keeps the last good secrets.
// fs.promises read at the call, not node:fs/promises imported: a start without the agent does not load it (index.ts).
import { promises as fsPromises, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { parseSecretFile, SecretFileError } from './env-file.js';
import type { SecretsFailureReason, SecretStoreWriter } from './store.js';

export class SecretsDirError extends Error {
  readonly reason: SecretsFailureReason;
  constructor(message: string, reason: SecretsFailureReason, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretsDirError';
    this.reason = reason;
  }
}

export interface LoadedDir {
  readonly values: ReadonlyMap<string, string>;
  readonly files: readonly string[];
  /** Names defined by more than one file (the file later in name order wins). */
  readonly duplicates: readonly string[];
}

/**
 * Largest secrets file read. Rendered secrets are a few KiB (a PEM chain is the largest thing expected); a
 * 50 MB file took 12-25 s and 1.2-1.9 GiB to load, so a runaway template or a wrong mount stops the start
 * with a clear message instead.
 */
export const maxSecretFileBytes = 1024 * 1024;

const tooBig = (path: string, size: number) =>
  new SecretsDirError(
    `${path}: the file is ${size} bytes, over the ${maxSecretFileBytes}-byte limit for a Vault agent secrets file; check the agent template`,
    'malformed_file',
  );

/** Every regular file in the directory except hidden ones (temporary files, `..data` links), in name order. */
export async function loadSecretsDir(dir: string): Promise<LoadedDir> {
  let names: string[];
  try {
    names = (await fsPromises.readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretsDirError(`VAULT_SECRETS_DIR ${dir}: cannot list the directory (${code})`, 'unreadable_file');
  }
  const values = new Map<string, string>();
  const files: string[] = [];
  const duplicates = new Set<string>();
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      const info = await fsPromises.stat(path);
      if (!info.isFile()) continue;
      if (info.size > maxSecretFileBytes) throw tooBig(path, info.size);
      text = await fsPromises.readFile(path, 'utf8');
      // Grown between stat and read (a new render): refused the same way, the next re-read sees it settled.
      if (text.length > maxSecretFileBytes) throw tooBig(path, text.length);
    } catch (err) {
      if (err instanceof SecretsDirError) throw err;
      // Renamed away between readdir and read: the next re-read sees the new file.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new SecretsDirError(
        `${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        'unreadable_file',
      );
    }
    for (const [key, value] of parseSecretFile(text, path)) {
      if (values.has(key)) duplicates.add(key);
      values.set(key, value);
    }
    files.push(name);
  }
  return { values, files, duplicates: [...duplicates].sort() };
}

export interface AgentSecretsOptions {
  readonly dir: string;
  readonly refreshMs: number;
  readonly store: SecretStoreWriter;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Coalesces the several events one rename produces. */
  readonly debounceMs?: number;
}

export interface SecretsWatcher {
  /** Re-reads now (also what the watcher and the interval call). Never throws. */
  reload(): Promise<void>;
  close(): void;
}

function reasonOf(err: unknown): SecretsFailureReason {
  if (err instanceof SecretFileError) return 'malformed_file';
  if (err instanceof SecretsDirError) return err.reason;
  return 'unreadable_file';
}

/** First load: throws (SecretFileError / SecretsDirError) so the process refuses to start. */
export async function loadAgentSecrets(options: AgentSecretsOptions): Promise<void> {
  const now = options.now ?? (() => new Date());
  const loaded = await loadSecretsDir(options.dir);
  if (loaded.files.length === 0) options.log.warn({ dir: options.dir }, 'no secret files in VAULT_SECRETS_DIR');
  if (loaded.duplicates.length > 0)
    options.log.warn(
      { names: loaded.duplicates },
      'secrets defined in more than one file: the file last in name order wins',
    );
  options.store.replace(loaded.values, now());
  options.log.info(
    { dir: options.dir, files: loaded.files, count: loaded.values.size },
    'secrets loaded from Vault agent files',
  );
}

/** One re-read: new values into the store, or the failure recorded and the last good secrets kept. Never throws. */
async function reReadOnce(options: AgentSecretsOptions, now: () => Date): Promise<void> {
  const { dir, store, log } = options;
  try {
    const loaded = await loadSecretsDir(dir);
    const changed = store.replace(loaded.values, now());
    if (changed.size > 0)
      log.info({ changed: [...changed].sort(), files: loaded.files }, 'secrets changed: new values in use');
  } catch (err) {
    const reason = reasonOf(err);
    store.failed(reason, now());
    // The message names the file and line only (see env-file.ts), never a value.
    log.warn(
      { reason, error: err instanceof Error ? err.message : 'unknown error' },
      'secrets re-read failed: keeping the last good secrets',
    );
  }
}

/**
 * One run of `task` at a time. A call while one runs gets that run's promise and asks for one more run after
 * it (the directory changed again mid-read, and what was read may be stale); any number of such calls coalesce
 * into that one extra run. Nothing runs once `closed()`.
 */
function oneAtATime(task: () => Promise<void>, closed: () => boolean): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return async () => {
    if (closed()) return;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await task();
      } while (again && !closed());
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/**
 * Calls `onChange` after each burst of fs.watch events on the directory (one rename makes several). Watching
 * may fail (or be unsupported on the volume): logged, and the periodic re-read carries on alone.
 */
function watchDirectory(dir: string, log: Logger, debounceMs: number, onChange: () => void): { close(): void } {
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, () => {
      clearTimeout(debounce);
      debounce = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', (err) =>
      log.warn({ error: err.message }, 'watching VAULT_SECRETS_DIR failed: relying on the periodic re-read'),
    );
  } catch (err) {
    log.warn(
      { error: err instanceof Error ? err.message : String(err) },
      'cannot watch VAULT_SECRETS_DIR: relying on the periodic re-read',
    );
  }
  return {
    close() {
      clearTimeout(debounce);
      watcher?.close();
    },
  };
}

export function watchAgentSecrets(options: AgentSecretsOptions): SecretsWatcher {
  const now = options.now ?? (() => new Date());
  let closed = false;
  const reload = oneAtATime(
    () => reReadOnce(options, now),
    () => closed,
  );
  const watcher = watchDirectory(options.dir, options.log, options.debounceMs ?? 50, () => void reload());
  const interval = setInterval(() => void reload(), options.refreshMs);
  interval.unref();

  return {
    reload,
    close() {
      closed = true;
      clearInterval(interval);
      watcher.close();
    },
  };
}
