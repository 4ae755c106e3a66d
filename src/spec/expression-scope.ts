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
  /** Every string under `value` at `key`, none of them a `when` or a `run`. */
  const within = (key: PathSeg, value: unknown, scope: ScopeOf): void => {
    path.push(key);
    forEachString(value, (text) => visit(text, path, 'other', scope), path);
    path.pop();
  };
  /** The fields of a job or step: `kindOf` tells which of its string fields are `when` or `run`. */
  const fields = (value: Record<string, unknown>, scope: ScopeOf, kindOf: (key: string) => FieldKind, steps?: (list: unknown[]) => void): void => {
    for (const key of Object.keys(value)) {
      const field = value[key];
      if (steps && key === 'steps' && Array.isArray(field)) {
        path.push(key);
        steps(field);
        path.pop();
      } else if (typeof field === 'string') {
        path.push(key);
        visit(field, path, kindOf(key), scope);
        path.pop();
      } else within(key, field, scope);
    }
  };

  const step = (steps: unknown[], index: number, jobScope: ScopeOf): void => {
    const value = steps[index];
    const scope = lazy(() => {
      const names = steps.slice(0, index).flatMap((s: unknown) => (isPlainObject(s) && typeof s.name === 'string' ? [s.name] : []));
      return { stepsBefore: names, matrixKeys: jobScope().matrixKeys, variableNames, inStep: true };
    });
    if (isPlainObject(value)) {
      path.push(index);
      fields(value, scope, stepFieldKind);
      path.pop();
    } else within(index, value, scope);
  };

  const job = (list: unknown[], index: number): void => {
    const value = list[index];
    const scope = lazy(() => ({ stepsBefore: null, matrixKeys: matrixKeysOf(value), variableNames, inStep: false }));
    if (isPlainObject(value)) {
      path.push(index);
      fields(value, scope, jobFieldKind, (steps) => {
        for (let k = 0; k < steps.length; k++) step(steps, k, scope);
      });
      path.pop();
    } else within(index, value, scope);
  };

  const jobs = (key: string, list: unknown[]): void => {
    path.push(key);
    for (let i = 0; i < list.length; i++) job(list, i);
    path.pop();
  };

  if (!isPlainObject(raw)) return forEachString(raw, (text) => visit(text, path, 'other', outside), path);
  for (const key of Object.keys(raw)) {
    const field = raw[key];
    if (key === 'jobs' && Array.isArray(field)) jobs(key, field);
    else if (key === 'stages' && Array.isArray(field)) {
      path.push(key);
      for (let i = 0; i < field.length; i++) {
        const stage: unknown = field[i];
        if (!isPlainObject(stage)) {
          within(i, stage, outside);
          continue;
        }
        path.push(i);
        for (const stageKey of Object.keys(stage)) {
          const stageField = stage[stageKey];
          if (stageKey === 'jobs' && Array.isArray(stageField)) jobs(stageKey, stageField);
          else within(stageKey, stageField, outside);
        }
        path.pop();
      }
      path.pop();
    } else within(key, field, outside);
  }
}

const jobFieldKind = (key: string): FieldKind => (key === 'when' ? 'condition' : 'other');
const stepFieldKind = (key: string): FieldKind => (key === 'when' ? 'condition' : key === 'run' ? 'run' : 'other');
