// The start-up table's "send a first event": built from the Triggers the values file actually renders, so
// every suggestion matches one (checked with the broker's own filter code, not assumed). The data comes from
// the subscriber function's functions/<name>/example.json when it has one, so the event also succeeds there.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { matches, type DialectFilter, type TriggerFilter } from './filter.js';
import type { Plan } from './plan.js';

export interface Suggestion {
  readonly trigger: string;
  /** The triggers this event matches (the suggested one first). */
  readonly reaches: readonly string[];
  readonly type: string;
  readonly source: string;
  readonly extensions: Readonly<Record<string, string>>;
  readonly data: string;
  /** The data is the subscriber function's example.json (else a neutral payload). */
  readonly fromExample: boolean;
}

type Attrs = Record<string, string>;
const defaults = { type: 'com.example.try', source: '/local/try' };

/** Attribute values a dialect filter accepts, or undefined when this simple search finds none. */
function satisfy(f: DialectFilter, into: Attrs): Attrs | undefined {
  // Keeps a value an earlier filter chose when it already passes this one (all: [prefix, suffix] on one attribute).
  const merge = (
    values: Readonly<Record<string, string>>,
    passes: (actual: string, v: string) => boolean,
    make: (v: string) => string,
  ) => {
    const out = { ...into };
    for (const [k, v] of Object.entries(values)) {
      const current = out[k];
      out[k] = current !== undefined && passes(current, v) ? current : make(v);
    }
    return out;
  };
  if ('exact' in f)
    return merge(
      f.exact,
      (a, v) => a === v,
      (v) => v,
    );
  if ('prefix' in f)
    return merge(
      f.prefix,
      (a, v) => a.startsWith(v),
      (v) => `${v}${v.endsWith('.') || v.endsWith('/') ? '' : '.'}try`,
    );
  if ('suffix' in f)
    return merge(
      f.suffix,
      (a, v) => a.endsWith(v),
      (v) => `try${v}`,
    );
  if ('all' in f) return f.all.reduce<Attrs | undefined>((acc, sub) => (acc ? satisfy(sub, acc) : undefined), into);
  if ('any' in f) {
    for (const sub of f.any) {
      const found = satisfy(sub, into);
      if (found) return found;
    }
    return into;
  }
  return into; // `not`: the defaults usually pass it; the final check says whether they do
}

/** An event (type, source, extensions) the filter accepts, or undefined. */
export function eventFor(filter: TriggerFilter): Attrs | undefined {
  let attrs: Attrs | undefined = {};
  if (filter.filters && filter.filters.length > 0) {
    for (const f of filter.filters) attrs = attrs ? satisfy(f, attrs) : undefined;
  } else if (filter.attributes) {
    for (const [k, v] of Object.entries(filter.attributes))
      attrs[k] = v === '' ? (defaults[k as keyof typeof defaults] ?? 'try') : v;
  }
  if (!attrs) return undefined;
  const event = { ...defaults, ...attrs };
  return matches(filter, { specversion: '1.0', id: 'suggested', ...event }) ? event : undefined;
}

function exampleData(functionsDir: string, fn: string | undefined): string | undefined {
  const file = fn ? join(functionsDir, fn, 'example.json') : undefined;
  if (file && existsSync(file)) {
    try {
      return JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      // not JSON: fall back to a neutral payload rather than stop the runner over an example
    }
  }
  return undefined;
}

/** One suggestion per Trigger that a simple event can match, in the order of the plan. */
export function suggestEvents(plan: Plan, functionsDir: string): Suggestion[] {
  const out: Suggestion[] = [];
  for (const t of plan.triggers) {
    const event = eventFor(t.filter);
    if (!event) continue;
    const { type, source, specversion: _s, id: _i, ...extensions } = event as Attrs & typeof defaults;
    const subscriber = plan.services.find((s) => t.subscriberUrl.startsWith(s.url));
    const attrs = { specversion: '1.0', id: 'suggested', ...event };
    const reaches = [t.name, ...plan.triggers.filter((o) => o !== t && matches(o.filter, attrs)).map((o) => o.name)];
    const data = exampleData(functionsDir, subscriber?.functionName);
    out.push({
      trigger: t.name,
      reaches,
      type,
      source,
      extensions,
      data: data ?? '{"hello":"world"}',
      fromExample: data !== undefined,
    });
  }
  // Events built from a function's own example first: they show the pipeline doing its real work.
  return [...out.filter((s) => s.fromExample), ...out.filter((s) => !s.fromExample)];
}
