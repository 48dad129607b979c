// The secrets in use: one immutable map swapped whole, so a reader never sees half of a rotation.
// Agent files and direct Vault reads both end here; roles and functions read it through `Secrets`.
import type { Secrets } from '../function-api.js';

/** Why a load failed: a short, stable code, safe for logs and metric labels (never a value). */
export type SecretsFailureReason =
  | 'unreachable' // connection refused, DNS, TLS
  | 'timeout'
  | 'sealed' // 503: sealed or standby
  | 'denied' // 403
  | 'not_found' // 404
  | 'login_failed'
  | 'bad_response'
  | 'malformed_file'
  | 'unreadable_file';

/**
 * What the metrics module turns into metrics (all optional), e.g. a gauge
 * `knative_events_secrets_last_refresh_ok` and a counter `knative_events_secrets_refresh_failures_total{reason}`.
 */
export interface SecretsObserver {
  /** After every load attempt: true when it succeeded, false when the last good secrets are kept. */
  lastRefreshOk?(ok: boolean): void;
  refreshFailed?(reason: SecretsFailureReason): void;
  /** The values changed (not called when a re-read finds the same values). */
  secretsChanged?(count: number): void;
  /** One call to Vault (direct mode): which, how it ended ('ok' or a failure reason), how long it took. */
  vaultCall?(operation: VaultOperation, result: 'ok' | SecretsFailureReason, seconds: number): void;
}

export type VaultOperation = 'login' | 'renew' | 'lookup' | 'read';

export interface SecretsStatus {
  readonly mode: 'off' | 'agent' | 'direct';
  /** False from the first failed refresh until the next successful one. */
  readonly ok: boolean;
  readonly count: number;
  readonly lastSuccessAt: Date | undefined;
  readonly lastFailure: { readonly reason: SecretsFailureReason; readonly at: Date } | undefined;
}

export interface SecretStore extends Secrets {
  names(): readonly string[];
  /** Called after each change with the names whose values changed, appeared or went away. */
  onChange(listener: (changed: ReadonlySet<string>) => void): () => void;
  /** Observers get the current state at once, then every refresh. */
  observe(observer: SecretsObserver): void;
  status(): SecretsStatus;
}

/** The write side, for the loaders. */
export interface SecretStoreWriter extends SecretStore {
  /** Swaps in a complete new set; returns the names that changed. */
  replace(values: ReadonlyMap<string, string>, now: Date): ReadonlySet<string>;
  failed(reason: SecretsFailureReason, now: Date): void;
  vaultCalled(operation: VaultOperation, result: 'ok' | SecretsFailureReason, seconds: number): void;
}

export function createSecretStore(
  mode: SecretsStatus['mode'],
  onListenerError: (err: unknown) => void = () => {},
): SecretStoreWriter {
  let values: ReadonlyMap<string, string> = new Map();
  let ok = true;
  let lastSuccessAt: Date | undefined;
  let lastFailure: SecretsStatus['lastFailure'];
  const listeners = new Set<(changed: ReadonlySet<string>) => void>();
  const observers: SecretsObserver[] = [];

  return {
    get: (name) => values.get(name),
    names: () => [...values.keys()].sort(),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    observe(observer) {
      observers.push(observer);
      observer.lastRefreshOk?.(ok);
    },
    status: () => ({ mode, ok, count: values.size, lastSuccessAt, lastFailure }),
    replace(next, now) {
      const changed = new Set<string>();
      for (const [name, value] of next) if (values.get(name) !== value) changed.add(name);
      for (const name of values.keys()) if (!next.has(name)) changed.add(name);
      values = new Map(next);
      ok = true;
      lastSuccessAt = now;
      for (const o of observers) o.lastRefreshOk?.(true);
      if (changed.size > 0) {
        for (const o of observers) o.secretsChanged?.(values.size);
        for (const listener of listeners) {
          try {
            listener(changed);
          } catch (err) {
            onListenerError(err);
          }
        }
      }
      return changed;
    },
    vaultCalled(operation, result, seconds) {
      for (const o of observers) o.vaultCall?.(operation, result, seconds);
    },
    failed(reason, now) {
      ok = false;
      lastFailure = { reason, at: now };
      for (const o of observers) {
        o.refreshFailed?.(reason);
        o.lastRefreshOk?.(false);
      }
    },
  };
}
