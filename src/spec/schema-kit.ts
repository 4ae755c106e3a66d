// Building blocks for the spec schemas: mappings that accept snake_case spellings and reject
// unknown keys (all of them, each reported), and the small value types fields share.
import * as v from 'valibot';
import { parseDuration } from '../duration';
import { canonicalKey, isPlainObject } from './keys';
import { describeValue } from './issues';

interface KeyInfo {
  allowed: readonly string[];
  label: string;
}

/**
 * What a canonicalized mapping allowed, for unknown-key messages (see messages.ts). Kept on the
 * mapping's own intermediate copy under a symbol (cheaper than a WeakMap entry for every mapping);
 * validation reads only its string keys, and the output is a new object.
 */
const KEY_INFO = Symbol('key info');

export function keyInfoOf(object: unknown): KeyInfo | undefined {
  return typeof object === 'object' && object !== null ? (object as { [KEY_INFO]?: KeyInfo })[KEY_INFO] : undefined;
}

const got = (issue: { input: unknown }): string => `got ${describeValue(issue.input)}`;

/** A plain mapping; `what` says what it maps, e.g. `job fields` or `environment variables`. */
export function plainObject(what: string) {
  return v.custom<Record<string, unknown>>(isPlainObject, (issue) => `must be a mapping of ${what}, ${got(issue)}`);
}

/** Renames accepted spellings to their canonical key; a repeated field keeps its spelling (and is rejected later). */
export function canonicalKeys(allowed: readonly string[], label: string) {
  const info: KeyInfo = { allowed, label };
  return v.transform((input: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string | symbol, unknown> = {};
    for (const key of Object.keys(input)) {
      const canonical = canonicalKey(key, allowed);
      const repeated = canonical !== undefined && (Object.hasOwn(out, canonical) || (canonical !== key && Object.hasOwn(input, canonical)));
      out[canonical === undefined || repeated ? key : canonical] = input[key];
    }
    out[KEY_INFO] = info;
    return out;
  });
}

/** A mapping with exactly these fields (any accepted spelling); every unknown key is an error. */
export function mapping<const E extends v.ObjectEntries>(entries: E, label: string) {
  return v.pipe(
    plainObject(`${label} fields`),
    canonicalKeys(Object.keys(entries), label),
    v.objectWithRest(entries, v.never()),
    v.transform((value) => value as unknown as v.InferOutput<v.ObjectSchema<E, undefined>>),
  );
}

export const text = v.string((issue) => `must be a string, ${got(issue)}`);

export const nonEmptyText = v.pipe(
  text,
  v.check((s) => s.trim().length > 0, 'must not be empty'),
);

export const flag = v.boolean((issue) => `must be true or false, ${got(issue)}`);

export const name = v.pipe(
  nonEmptyText,
  v.maxLength(100, 'must be at most 100 characters'),
  v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
  v.check((s) => s.trim() === s, 'must not start or end with spaces'),
);

/** A scalar written where a string is meant (`PORT: 8080`, `debug: true`), kept as its text. */
export const scalarText = v.pipe(
  v.union([v.string(), v.number(), v.boolean()], (issue) => `must be a string, number or boolean, ${got(issue)}`),
  v.transform((value) => String(value)),
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const envMap = v.pipe(
  plainObject('environment variables (NAME: value)'),
  v.record(v.pipe(v.string(), v.regex(ENV_NAME, 'is not a valid environment variable name (letters, digits and _, not starting with a digit)')), scalarText),
);

export const variableMap = v.pipe(
  plainObject('variables (name: value)'),
  v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][\w-]*$/, 'is not a valid variable name (letters, digits, _ and -, not starting with a digit)')), scalarText),
);

export const argsMap = v.pipe(plainObject('arguments (name: value)'), v.record(v.string(), v.unknown()));

/** One value or a list of them (`needs: build` or `needs: [build, lint]`), always a list after parsing. */
export function oneOrMany<T>(item: v.GenericSchema<unknown, T>) {
  return v.pipe(
    v.unknown(),
    v.transform((value: unknown): unknown[] => (Array.isArray(value) ? value : [value])),
    v.array(item),
  );
}

export const list = <T>(item: v.GenericSchema<unknown, T>) => v.array(item, (issue) => `must be a list, ${got(issue)}`);

/** Recently parsed durations: a spec repeats the same few (`10m`) thousands of times. Bounded, and only short texts. */
const recentDurations = new Map<string, number | null>();

function durationMs(text: string): number | null {
  let ms = recentDurations.get(text);
  if (ms === undefined) {
    ms = parseDuration(text);
    if (text.length <= 32) {
      if (recentDurations.size >= 256) recentDurations.clear();
      recentDurations.set(text, ms);
    }
  }
  return ms;
}

/** Checks and converts in one step, so each duration is parsed once. */
function durationOf(min: number, what: string) {
  return v.pipe(
    v.string((issue) => `must be a duration such as 90s, 5m or 1h30m, ${got(issue)}`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const ms = durationMs(dataset.value);
      if (ms !== null && Number.isSafeInteger(ms) && ms >= min) return ms;
      addIssue({ message: (issue) => `must be ${what} such as 90s, 5m or 1h30m (units ms, s, m, h, d), ${got(issue)}` });
      return NEVER;
    }),
  );
}

export const timeoutDuration = durationOf(1, 'a duration greater than zero');
/** Temporal refuses catch-up windows under ten seconds. */
export const catchupDuration = durationOf(10_000, 'a duration of at least 10s');
export const delayDuration = durationOf(0, 'a duration');

export const PLUGIN_REF = /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*@(v\d+|\d+\.\d+\.\d+)$/i;

export const pluginRef = v.pipe(
  text,
  v.regex(PLUGIN_REF, (issue) => `must name a plugin as <owner>/<name>@<version> with version vN or x.y.z, e.g. actions/git-checkout@v1; ${got(issue)}`),
);

export const positiveInt = (max: number) =>
  v.pipe(
    v.number((issue) => `must be a whole number, ${got(issue)}`),
    v.integer((issue) => `must be a whole number, ${got(issue)}`),
    v.minValue(1, (issue) => `must be at least 1, ${got(issue)}`),
    v.maxValue(max, (issue) => `must be at most ${max}, ${got(issue)}`),
  );

/** Inside the workspace: relative, and never climbing above it with `..`. */
export function isContainedRelativePath(path: string): boolean {
  if (/^([\\/]|[A-Za-z]:)/.test(path) || path.includes('\0')) return false;
  let depth = 0;
  for (const part of path.split(/[\\/]+/)) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return false;
  }
  return true;
}

export const relativeDir = v.pipe(
  nonEmptyText,
  v.check(isContainedRelativePath, (issue) => `must be a path relative to the workspace that does not leave it (no leading / and no escaping ..), ${got(issue)}`),
);
