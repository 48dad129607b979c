// The declarative trade mapping: its schema (checked once, when the function loads) and the mapper that
// applies it to one trade, collecting every problem instead of stopping at the first.
import * as v from 'valibot';

const field = v.pipe(
  v.strictObject({
    from: v.pipe(v.string(), v.minLength(1)),
    type: v.picklist(['string', 'integer', 'number', 'boolean', 'timestamp', 'enum']),
    required: v.optional(v.boolean()),
    default: v.optional(v.union([v.string(), v.number(), v.boolean()])),
    case: v.optional(v.picklist(['upper', 'lower'])),
    min: v.optional(v.number()),
    values: v.optional(v.record(v.string(), v.string())),
  }),
  v.check(
    (f) => f.type !== 'enum' || (f.values !== undefined && Object.keys(f.values).length > 0),
    'an enum field needs "values"',
  ),
  v.check((f) => !(f.required && f.default !== undefined), 'a field is either required or has a default, not both'),
);

export const mappingSchema = v.strictObject({
  $comment: v.optional(v.string()),
  outputType: v.pipe(v.string(), v.minLength(1)),
  subjectField: v.optional(v.string()),
  fields: v.record(v.string(), field),
});

export type Mapping = v.InferOutput<typeof mappingSchema>;
type Field = Mapping['fields'][string];
type Value = string | number | boolean;

export function loadMapping(raw: unknown): Mapping {
  const parsed = v.safeParse(mappingSchema, raw);
  if (!parsed.success) {
    const problems = parsed.issues.map(
      (issue) => `${(issue.path ?? []).map((p) => String(p.key)).join('.')}: ${issue.message}`,
    );
    throw new Error(`trade-transform mapping.json is invalid: ${problems.join('; ')}`);
  }
  return parsed.output;
}

function lookup(input: Record<string, unknown>, path: string): unknown {
  let current: unknown = input;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

type Converted = { ok: true; value: Value } | { ok: false; problem: string };

function convert(name: string, spec: Field, value: unknown): Converted {
  const problem = (expected: string): Converted => ({
    ok: false,
    problem: `${name} (from ${spec.from}): expected ${expected}, got ${JSON.stringify(value)}`,
  });
  const ok = (v: Value): Converted => ({ ok: true, value: v });
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string' && typeof value !== 'number') return problem('a string');
      const text = String(value).trim();
      return ok(spec.case === 'upper' ? text.toUpperCase() : spec.case === 'lower' ? text.toLowerCase() : text);
    }
    case 'integer':
    case 'number': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : Number.NaN;
      if (!Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n)))
        return problem(spec.type === 'integer' ? 'a whole number' : 'a number');
      if (spec.min !== undefined && n < spec.min) return problem(`at least ${spec.min}`);
      return ok(n);
    }
    case 'boolean':
      if (typeof value === 'boolean') return ok(value);
      if (value === 'true' || value === 'false') return ok(value === 'true');
      return problem('true or false');
    case 'timestamp': {
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
      // A finite number can still be outside what a Date holds (±8.64e15 ms): toISOString would throw a
      // RangeError, which is the trade's fault (422), not ours (500).
      if (!Number.isFinite(ms)) return problem('a date-time (ISO 8601) or epoch milliseconds');
      const date = new Date(ms);
      if (Number.isNaN(date.getTime()))
        return problem('a time between the years -271821 and 275760 (epoch milliseconds within ±8.64e15)');
      return ok(date.toISOString());
    }
    case 'enum': {
      const key = typeof value === 'string' ? value.trim().toUpperCase() : undefined;
      const mapped = key === undefined ? undefined : spec.values?.[key];
      return mapped === undefined ? problem(`one of ${Object.keys(spec.values ?? {}).join(', ')}`) : ok(mapped);
    }
  }
}

export type MapResult = { ok: true; value: Record<string, Value> } | { ok: false; problems: string[] };

export function mapTrade(mapping: Mapping, input: unknown): MapResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: ['the trade must be a JSON object'] };
  }
  const output: Record<string, Value> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(mapping.fields)) {
    const raw = lookup(input as Record<string, unknown>, spec.from);
    if (raw === undefined || raw === null || raw === '') {
      if (spec.default !== undefined) output[name] = spec.default;
      else if (spec.required) problems.push(`${name} (from ${spec.from}): required but missing`);
      continue;
    }
    const converted = convert(name, spec, raw);
    if (converted.ok) output[name] = converted.value;
    else problems.push(converted.problem);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: output };
}
