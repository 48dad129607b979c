// The building blocks of the configuration: one error type that carries every problem, valibot field
// parsers for environment strings (URLs, bounded integers, seconds, booleans, enums) with messages that
// say what is expected, and the section parser that collects problems instead of stopping at the first.
import * as v from 'valibot';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export const httpUrl = (what: string) =>
  v.pipe(
    v.string(`is required: ${what}, an http(s) URL`),
    v.trim(),
    v.check(
      isHttpUrl,
      `expected ${what}, an http(s) URL such as http://kafka-broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<broker>`,
    ),
  );

/** A whole number from min to max, as an environment string. */
const wholeNumber = (min: number, max: number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, expected),
    v.transform(Number),
    v.minValue(min, expected),
    v.maxValue(max, expected),
  );
};

export const integer = (min: number, max: number, fallback: number) =>
  v.optional(wholeNumber(min, max), String(fallback));

/** A whole number from min to max with no default: unset (or empty) stays undefined. */
export const optionalInteger = (min: number, max: number) => v.optional(wholeNumber(min, max));

export const oneOf = <const T extends readonly string[]>(values: T, fallback: T[number]) =>
  v.optional(
    v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(values, `expected one of ${values.join(', ')}`)),
    fallback,
  );

/** Seconds, fractions allowed (tests use short intervals), as milliseconds. */
export const seconds = (min: number, max: number, fallback: number) => {
  const expected = `expected a number of seconds from ${min} to ${max}`;
  return v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+(\.\d+)?$/, expected),
      v.transform(Number),
      v.minValue(min, expected),
      v.maxValue(max, expected),
      v.transform((s) => Math.round(s * 1000)),
    ),
    String(fallback),
  );
};

export const boolean = (fallback: 'true' | 'false') =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(['true', 'false'], 'expected true or false'),
      v.transform((x) => x === 'true'),
    ),
    fallback,
  );

function problemsOf(
  issues: readonly v.BaseIssue<unknown>[],
  env: Env,
  hints: Readonly<Record<string, string>>,
): string[] {
  return issues.map((issue) => {
    const key = issue.path?.[0]?.key;
    const name = typeof key === 'string' || typeof key === 'number' ? String(key) : '';
    const raw = env[name];
    if (raw === undefined) return `${name}: is required${hints[name] ? `: ${hints[name]}` : ''}`;
    const got = raw === undefined ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
    return `${name}: ${issue.message}${got}`;
  });
}

/** Empty strings count as unset: Helm and shells often render a missing value as "". */
export function withoutEmpty(env: Env): Env {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') out[key] = value;
  return out;
}

/**
 * Parses one schema, collecting its problems instead of throwing. `shown` is what a problem may quote (never
 * a secret); `hints` say what to put in a required variable that is missing.
 */
export function section<S extends v.GenericSchema>(
  schema: S,
  env: Env,
  problems: string[],
  options: { readonly shown?: Env; readonly hints?: Readonly<Record<string, string>> } = {},
): v.InferOutput<S> | undefined {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  problems.push(...problemsOf(result.issues, options.shown ?? env, options.hints ?? {}));
  return undefined;
}
