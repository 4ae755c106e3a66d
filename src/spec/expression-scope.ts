// Where a string of the raw spec sits, as the expression checker needs it: which job and step,
// the earlier steps' names, the job's matrix keys, and whether it is a `when` or a `run`.
import type { ExpressionScope } from './expressions';
import { canonicalKey, isPlainObject } from './keys';
import type { PathSeg } from './issues';
import { forEachString } from './scan';

/** A job's or step's `when` (one expression, with or without `${{ }}`), a step's `run` script, or any other field. */
export type FieldKind = 'condition' | 'run' | 'other';

/** The scope of a string, built on first use: most strings hold no expression that needs it. */
export type ScopeOf = () => ExpressionScope;

export type PlacedVisit = (text: string, path: readonly PathSeg[], kind: FieldKind, scope: ScopeOf) => void;

const MATRIX_FIELDS = ['include', 'exclude', 'maxParallel', 'failFast'];

/** Variables an expression may expect: the pipeline's `variables` and every trigger's. */
export function declaredVariables(raw: unknown): string[] {
  if (!isPlainObject(raw)) return [];
  const names = new Set(isPlainObject(raw.variables) ? Object.keys(raw.variables) : []);
  if (Array.isArray(raw.triggers)) {
    for (const trigger of raw.triggers) {
      const variables = isPlainObject(trigger) && isPlainObject(trigger.options) ? trigger.options.variables : undefined;
      if (isPlainObject(variables)) for (const name of Object.keys(variables)) names.add(name);
    }
  }
  return [...names];
}

function matrixKeysOf(job: unknown): string[] | null {
  const matrix = isPlainObject(job) ? job.matrix : undefined;
  if (!isPlainObject(matrix)) return null;
  const keys = new Set(Object.keys(matrix).filter((k) => canonicalKey(k, MATRIX_FIELDS) === undefined));
  if (Array.isArray(matrix.include)) for (const entry of matrix.include) if (isPlainObject(entry)) for (const k of Object.keys(entry)) keys.add(k);
  return [...keys];
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * Calls `visit` for each string of the raw spec, depth-first in document order (as forEachString
 * does), with its place: strings under `jobs[i]` or `stages[i].jobs[j]` are in that job, those
 * under its `steps[k]` also in that step. The path is reused: it is only valid during the call.
 */
export function forEachPlacedString(raw: unknown, visit: PlacedVisit): void {
  const variableNames = declaredVariables(raw);
  const outside: ScopeOf = lazy(() => ({ stepsBefore: null, matrixKeys: null, variableNames, inStep: false }));
  const path: PathSeg[] = [];

  /** Every string in `value` (at the current path), none of them a `when` or a `run`. */
  const strings = (value: unknown, scope: ScopeOf): void => forEachString(value, (text) => visit(text, path, 'other', scope), path);
  /** Calls `walk` for each item of a list, with the item's index on the path. */
  const eachItem = (list: unknown[], walk: (item: unknown, index: number) => void): void => {
    for (let i = 0; i < list.length; i++) {
      path.push(i);
      walk(list[i], i);
      path.pop();
    }
  };
  /** A field of a job or step, at the current path: its `when` is a condition, a step's `run` a script. */
  const field = (value: unknown, key: string, scope: ScopeOf, inStep: boolean): void => {
    if (typeof value !== 'string') return strings(value, scope);
    visit(value, path, key === 'when' ? 'condition' : inStep && key === 'run' ? 'run' : 'other', scope);
  };

  const step = (steps: unknown[], index: number, jobScope: ScopeOf): void => {
    const value = steps[index];
    const scope = lazy(() => {
      const names = steps.slice(0, index).flatMap((s: unknown) => (isPlainObject(s) && typeof s.name === 'string' ? [s.name] : []));
      return { stepsBefore: names, matrixKeys: jobScope().matrixKeys, variableNames, inStep: true };
    });
    if (!isPlainObject(value)) return strings(value, scope);
    for (const key of Object.keys(value)) {
      path.push(key);
      field(value[key], key, scope, true);
      path.pop();
    }
  };

  const job = (value: unknown): void => {
    const scope = lazy(() => ({ stepsBefore: null, matrixKeys: matrixKeysOf(value), variableNames, inStep: false }));
    if (!isPlainObject(value)) return strings(value, scope);
    for (const key of Object.keys(value)) {
      const fieldValue = value[key];
      path.push(key);
      if (key === 'steps' && Array.isArray(fieldValue)) eachItem(fieldValue, (_, k) => step(fieldValue, k, scope));
      else field(fieldValue, key, scope, false);
      path.pop();
    }
  };

  /** The pipeline's fields, or a stage's: `jobs` (and the pipeline's `stages`) hold jobs, the rest is outside any job. */
  const fields = (value: Record<string, unknown>, isPipeline: boolean): void => {
    for (const key of Object.keys(value)) {
      const fieldValue = value[key];
      path.push(key);
      if (key === 'jobs' && Array.isArray(fieldValue)) eachItem(fieldValue, job);
      else if (isPipeline && key === 'stages' && Array.isArray(fieldValue)) eachItem(fieldValue, (stage) => (isPlainObject(stage) ? fields(stage, false) : strings(stage, outside)));
      else strings(fieldValue, outside);
      path.pop();
    }
  };

  if (isPlainObject(raw)) fields(raw, true);
  else strings(raw, outside);
}
