// Label values that a client cannot multiply: every label is drawn from a fixed set or capped, because each
// distinct value is a new time series in Prometheus and a caller controls event types, paths and methods.

/** An event type keeps its own label value only when METRICS_EVENT_TYPES lists it. */
export function eventTypeLabeller(allowList: readonly string[]): (type: string | undefined) => string {
  const allowed = new Set(allowList);
  return (type) => (type === undefined ? 'unknown' : allowed.has(type) ? type : 'other');
}

const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

export function methodLabel(method: string): string {
  return knownMethods.has(method) ? method : 'other';
}

/** "2xx" … "5xx"; anything outside 100-599 (a bug or a raw socket reset) is "other". */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

/**
 * Caps a free-form label (dead-letter destinations come from the event, set by whoever failed): the first
 * `limit` distinct values keep their name, every later one is "other". A deployment talks to a handful of
 * services, so the cap is only reached by a misbehaving sender.
 */
export function cappedLabeller(limit: number, normalise: (raw: string) => string | undefined): (raw: string) => string {
  const seen = new Set<string>();
  return (raw) => {
    const value = normalise(raw);
    if (value === undefined) return 'other';
    if (seen.has(value)) return value;
    if (seen.size >= limit) return 'other';
    seen.add(value);
    return value;
  };
}

/** host + path of a URL: the service that failed, without query strings that would carry ids. */
export function hostAndPath(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return `${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/** An HTTP status code as Knative writes it in knativeerrorcode; anything else is "other". */
export function errorCodeLabel(code: string): string {
  return /^[1-5]\d\d$/.test(code) ? code : 'other';
}
