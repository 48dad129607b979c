// Remembers the signatures accepted within the replay window, so a captured signed request cannot be sent
// again while its timestamp is still valid. Memory is bounded: at most `capacity` entries (each a 16-byte
// prefix of the signature, ≈70 bytes with the map's own cost). An entry is dropped once its timestamp has
// left the window, since the timestamp check alone refuses the request from then on. When the map is full of
// entries still in their window, new requests are refused (503, retry later) rather than forgetting one: a
// forgotten signature could be replayed.

export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export interface ReplayGuard {
  /** Records the signature if new. `expiresAtMs`: when its timestamp leaves the window. */
  admit(signatureHex: string, expiresAtMs: number, nowMs: number): ReplayVerdict;
  readonly size: number;
}

/** A full sweep of the map is O(entries): at most one per this interval while full. */
const fullSweepIntervalMs = 1000;

export function createReplayGuard(capacity: number): ReplayGuard {
  const seen = new Map<string, number>();
  let lastFullSweep = -Infinity;

  const sweep = (nowMs: number, everything: boolean) => {
    for (const [key, expiresAt] of seen) {
      if (expiresAt <= nowMs) seen.delete(key);
      // Insertion order roughly follows expiry; stop at the first live entry unless sweeping everything.
      else if (!everything) return;
    }
  };

  return {
    admit(signatureHex, expiresAtMs, nowMs) {
      // 128 bits of HMAC output as a 16-character string of its own: collisions are out of reach, and the key
      // stays small (a slice of the hex would be a view that keeps the whole signature string alive).
      const key = Buffer.from(signatureHex.slice(0, 32), 'hex').toString('latin1');
      const known = seen.get(key);
      if (known !== undefined && known > nowMs) return 'replayed';
      sweep(nowMs, false);
      if (seen.size >= capacity && nowMs - lastFullSweep >= fullSweepIntervalMs) {
        lastFullSweep = nowMs;
        sweep(nowMs, true);
      }
      if (seen.size >= capacity) return 'full';
      seen.delete(key);
      seen.set(key, expiresAtMs);
      return 'fresh';
    },
    get size() {
      return seen.size;
    },
  };
}
