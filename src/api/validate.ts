// Request validation with valibot: a 400 that names the field and the reason.
import * as v from 'valibot';
import { InvalidInput } from '../errors';

export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown, where: 'body' | 'query' = 'body'): v.InferOutput<S> {
  // valibot's object() takes an array for an object; a JSON body must be an object proper.
  if (where === 'body' && input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new InvalidInput('body: must be a JSON object', [{ path: 'body', message: 'must be a JSON object' }]);
  }
  const result = v.safeParse(schema, input ?? {});
  if (result.success) return result.output;
  const details = result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? where, message: issue.message }));
  throw new InvalidInput(`${details[0].path}: ${details[0].message}`, details);
}

export const Pagination = {
  page: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1')), '1'),
  pageSize: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(100, 'must be at most 100')), '20'),
};
