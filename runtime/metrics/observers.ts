// The metrics side of the hooks roles and the event sender call (SendObserver, RoleObserver): outbound
// attempts and retries, function runs, dead letters and the dead-letter store's size.
import type { AttemptResult, SendObserver } from '../events/sender.js';
import type { RoleObserver } from '../roles/role.js';
import type { SecretsObserver } from '../secrets/store.js';
import type { MetricSet } from './definitions.js';
import { histogramObserver } from './fast-path.js';
import { cappedLabeller, errorCodeLabel, hostAndPath, statusClass } from './labels.js';

/** Distinct dead-letter destinations that get their own label value; the rest count as "other". */
export const maxDestinations = 32;

function resultLabel(result: AttemptResult): string {
  switch (result.kind) {
    case 'accepted':
    case 'status':
      return statusClass(result.status);
    case 'timeout':
      return 'timeout';
    case 'network':
      return 'network_error';
  }
}

export function sendObserver(metrics: MetricSet): SendObserver {
  // One cached label object per target and result (a handful each), for the fast path (fast-path.ts): an
  // observation through prom-client validated and hashed a new label object on every outbound attempt.
  const attemptLabels = new Map<string, { target: string; result: string }>();
  const observeAttempt = histogramObserver(metrics.outboundDuration);
  return {
    attempt(target, result, seconds) {
      const label = resultLabel(result);
      const key = `${target} ${label}`;
      let labels = attemptLabels.get(key);
      if (!labels) {
        labels = Object.freeze({ target, result: label });
        attemptLabels.set(key, labels);
      }
      observeAttempt(labels, seconds);
    },
    retry(target) {
      metrics.outboundRetries.inc({ target });
    },
  };
}

export function roleObserver(metrics: MetricSet): RoleObserver {
  const destinationLabel = cappedLabeller(maxDestinations, hostAndPath);
  // One cached label object per function and outcome, for the fast path (fast-path.ts).
  const functionLabels = new Map<string, { function: string; outcome: string }>();
  const observeFunction = histogramObserver(metrics.functionDuration);
  return {
    functionRan(functionName, seconds, outcome) {
      const key = `${functionName} ${outcome}`;
      let labels = functionLabels.get(key);
      if (!labels) {
        labels = Object.freeze({ function: functionName, outcome });
        functionLabels.set(key, labels);
      }
      observeFunction(labels, seconds);
      if (outcome !== 'ok') metrics.functionErrors.inc({ function: functionName, kind: outcome });
    },
    deadLetterStored(destination, code) {
      metrics.deadLetters.inc({ destination: destinationLabel(destination), code: errorCodeLabel(code) });
    },
    storeSize(bytes, records) {
      metrics.storeBytes.set(bytes);
      metrics.storeRecords.set(records);
    },
    storeRecreated(why) {
      metrics.storeRecreated.inc({ why });
    },
  };
}

/** Vault and agent-file loads: whether the last one worked, failures by reason, rotations. Never a value. */
export function secretsObserver(metrics: MetricSet): SecretsObserver {
  return {
    lastRefreshOk(ok) {
      metrics.secretsOk.set(ok ? 1 : 0);
    },
    refreshFailed(reason) {
      metrics.secretsFailures.inc({ reason });
    },
    secretsChanged() {
      metrics.secretsChanges.inc();
    },
    vaultCall(operation, result, seconds) {
      metrics.vaultDuration.observe({ operation, result }, seconds);
    },
  };
}
