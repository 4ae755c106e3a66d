// Request validation with valibot: a 400 that names the field and the reason.
import * as v from 'valibot';
import { InvalidInput } from '../errors';

export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown, where: 'body' | 'query' = 'body'): v.InferOutput<S> {
  // valibot's object() takes an array for an object; a JSON body must be an object proper.
  if (where === 'body' && input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new InvalidInput('body: must be a JSON object', [{ path: 'body', message: 'must be a JSON object' }]);
  }
  const bad = badText(input, where === 'body' ? '' : '');
  if (bad) throw new InvalidInput(`${bad}: must be text without NUL characters or unpaired surrogates`, [{ path: bad, message: 'not storable text' }]);
  const result = v.safeParse(schema, input ?? {});
  if (result.success) return result.output;
  const details = result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? where, message: issue.message }));
  throw new InvalidInput(`${details[0].path}: ${details[0].message}`, details);
}

/** The path of the first string (key or value) the database could not store as text, if any. */
function badText(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') || !value.isWellFormed() ? path || 'body' : null;
  if (depth > 64 || value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (key.includes('\u0000') || !key.isWellFormed()) return at;
    const found = badText(inner, at, depth + 1);
    if (found) return found;
  }
  return null;
}

export const Pagination = {
  page: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1')), '1'),
  pageSize: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(100, 'must be at most 100')), '20'),
};
