// Trigger filters, evaluated as Knative's broker evaluates them (knative/eventing pkg/eventfilter):
// - `filters` (the newer dialect) wins when it is a non-empty list; every entry must pass.
//   exact/prefix/suffix: each listed attribute must be present on the event and equal / start / end with
//   the value; all: every sub-filter passes (an empty list passes); any: at least one passes (an empty list
//   passes); not: the sub-filter fails.
// - otherwise `filter.attributes`: every listed attribute must be present and equal, where the empty string
//   means "any value". The required attributes (specversion, id, source, type) and the optional ones count
//   as present for this check even when unset, as in Knative's attributes filter; extensions must be set.
// - no filter at all: every event passes.
// cesql is not evaluated locally: a Trigger using it is refused when the manifests are read.

export type AttributeValues = Readonly<Record<string, string>>;

export type DialectFilter =
  | { readonly exact: AttributeValues }
  | { readonly prefix: AttributeValues }
  | { readonly suffix: AttributeValues }
  | { readonly all: readonly DialectFilter[] }
  | { readonly any: readonly DialectFilter[] }
  | { readonly not: DialectFilter };

export interface TriggerFilter {
  readonly attributes?: AttributeValues;
  readonly filters?: readonly DialectFilter[];
}

/** A CloudEvent's context attributes and extensions as strings (data excluded). */
export type EventAttributes = Readonly<Record<string, string | undefined>>;

const standardAttributes = ['specversion', 'id', 'source', 'type', 'subject', 'time', 'dataschema', 'datacontenttype'];

const dialectKeys = ['exact', 'prefix', 'suffix', 'all', 'any', 'not'] as const;

function compare(
  values: AttributeValues,
  event: EventAttributes,
  test: (actual: string, wanted: string) => boolean,
): boolean {
  return Object.entries(values).every(([name, wanted]) => {
    const actual = event[name];
    return actual !== undefined && test(actual, wanted);
  });
}

export function matchesDialect(filter: DialectFilter, event: EventAttributes): boolean {
  if ('exact' in filter) return compare(filter.exact, event, (a, w) => a === w);
  if ('prefix' in filter) return compare(filter.prefix, event, (a, w) => a.startsWith(w));
  if ('suffix' in filter) return compare(filter.suffix, event, (a, w) => a.endsWith(w));
  if ('all' in filter) return filter.all.every((f) => matchesDialect(f, event));
  if ('any' in filter) return filter.any.length === 0 || filter.any.some((f) => matchesDialect(f, event));
  return !matchesDialect(filter.not, event);
}

export function matchesAttributes(attributes: AttributeValues, event: EventAttributes): boolean {
  return Object.entries(attributes).every(([name, wanted]) => {
    const actual = event[name] ?? (standardAttributes.includes(name) ? '' : undefined);
    if (actual === undefined) return false;
    return wanted === '' || actual === wanted;
  });
}

export function matches(filter: TriggerFilter, event: EventAttributes): boolean {
  if (filter.filters && filter.filters.length > 0) return filter.filters.every((f) => matchesDialect(f, event));
  if (filter.attributes) return matchesAttributes(filter.attributes, event);
  return true;
}

function stringMap(raw: unknown, at: string): AttributeValues {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new Error(`${at}: expected a map of attribute name to value`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw new Error(`${at}.${name}: expected a string`);
    out[name] = String(value);
  }
  return out;
}

/** Reads one entry of a Trigger's `spec.filters` as it appears in the manifest; throws naming the bad path. */
export function parseDialect(raw: unknown, at: string): DialectFilter {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${at}: expected a filter object`);
  const keys = Object.keys(raw);
  if ('cesql' in raw)
    throw new Error(
      `${at}.cesql: CESQL filters are not evaluated by the local runner; use exact/prefix/suffix/all/any/not`,
    );
  const known = keys.filter((k) => (dialectKeys as readonly string[]).includes(k));
  if (known.length !== 1 || keys.length !== 1)
    throw new Error(`${at}: expected exactly one of ${dialectKeys.join(', ')}, got ${keys.join(', ') || 'nothing'}`);
  const key = known[0] as (typeof dialectKeys)[number];
  const value = (raw as Record<string, unknown>)[key];
  switch (key) {
    case 'exact':
    case 'prefix':
    case 'suffix':
      return { [key]: stringMap(value, `${at}.${key}`) } as DialectFilter;
    case 'all':
    case 'any':
      if (!Array.isArray(value)) throw new Error(`${at}.${key}: expected a list of filters`);
      return { [key]: value.map((f, i) => parseDialect(f, `${at}.${key}[${i}]`)) } as unknown as DialectFilter;
    case 'not':
      return { not: parseDialect(value, `${at}.not`) };
  }
}

/** A Trigger's filter from its spec (`filter.attributes` and/or `filters`). */
export function parseTriggerFilter(spec: Record<string, unknown>, at: string): TriggerFilter {
  const attributesRaw = (spec.filter as { attributes?: unknown } | undefined)?.attributes;
  const filtersRaw = spec.filters;
  const attributes =
    attributesRaw === undefined || attributesRaw === null
      ? undefined
      : stringMapAllowEmpty(attributesRaw, `${at}.filter.attributes`);
  if (filtersRaw !== undefined && filtersRaw !== null && !Array.isArray(filtersRaw))
    throw new Error(`${at}.filters: expected a list`);
  const filters = Array.isArray(filtersRaw)
    ? filtersRaw.map((f, i) => parseDialect(f, `${at}.filters[${i}]`))
    : undefined;
  return { attributes, filters };
}

function stringMapAllowEmpty(raw: unknown, at: string): AttributeValues {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${at}: expected a map of attribute name to value`);
  return Object.keys(raw).length === 0 ? {} : stringMap(raw, at);
}

/** The attributes a filter sees: every context attribute and extension of the event, as strings. */
export function attributesOf(event: { toJSON(): Record<string, unknown> }): EventAttributes {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.toJSON())) {
    if (name === 'data' || name === 'data_base64' || value === undefined || value === null) continue;
    out[name] =
      value instanceof Date
        ? value.toISOString()
        : typeof value === 'string'
          ? value
          : typeof value === 'number' || typeof value === 'boolean'
            ? String(value)
            : JSON.stringify(value);
  }
  return out;
}
