// Where a replay may go (`to=`):
//   destination (the default)  the subscriber that failed: the dead letter's knativeerrordest
//   broker                     BROKER_URL: Knative fans it out to every matching Trigger again
//   <url>                      only a URL listed in DLQ_REPLAY_TARGETS, so the admin API cannot be used to
//                              make the dlq call arbitrary hosts
import { HttpError } from '../http/errors.js';
import type { DeadLetter } from './record.js';

export interface ResolvedTarget {
  /** destination, broker or url. */
  readonly to: 'destination' | 'broker' | 'url';
  readonly url: string;
}

export interface ReplayTargets {
  readonly brokerUrl: string | undefined;
  readonly allowed: readonly string[];
  /** Checks `to` without a dead letter (a job's parameter): 400 when it can never work. */
  check(to: string | undefined): void;
  resolve(to: string | undefined, letter: DeadLetter): ResolvedTarget;
}

function httpUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function replayTargets(brokerUrl: string | undefined, allowed: readonly string[]): ReplayTargets {
  const allowList = new Set(allowed);

  function check(to: string | undefined): void {
    if (to === undefined || to === 'destination') return;
    if (to === 'broker') {
      if (!brokerUrl)
        throw new HttpError(
          400,
          'bad_request',
          "to=broker needs BROKER_URL (the broker ingress) in the dlq's environment",
        );
      return;
    }
    const url = httpUrl(to);
    if (!url)
      throw new HttpError(
        400,
        'bad_request',
        'to must be destination, broker, or an http(s) URL listed in DLQ_REPLAY_TARGETS',
      );
    if (!allowList.has(url)) {
      throw new HttpError(
        403,
        'forbidden',
        `to=${url} is not in DLQ_REPLAY_TARGETS: a replay goes to the failed destination, the broker, or an allow-listed URL (${allowList.size === 0 ? 'none is listed' : [...allowList].join(', ')})`,
      );
    }
  }

  return {
    brokerUrl,
    allowed: [...allowList],
    check,
    resolve(to, letter) {
      check(to);
      if (to === undefined || to === 'destination') {
        const destination = letter.error.destination;
        if (destination === undefined) {
          throw new HttpError(
            422,
            'invalid_event',
            `dead letter ${letter.id} has no knativeerrordest: replay it with to=broker or to=<an allow-listed URL>`,
          );
        }
        const url = httpUrl(destination);
        if (!url)
          throw new HttpError(
            422,
            'invalid_event',
            `dead letter ${letter.id}'s knativeerrordest is not an http(s) URL; replay it with to=broker or to=<an allow-listed URL>`,
          );
        return { to: 'destination', url };
      }
      if (to === 'broker') return { to: 'broker', url: brokerUrl as string };
      return { to: 'url', url: httpUrl(to) as string };
    },
  };
}
