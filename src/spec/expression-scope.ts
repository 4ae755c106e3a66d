// Where a string of the raw spec sits, as the expression checker needs it: which job and step,
// the earlier steps' names, the job's matrix keys, and whether it is a `when` or a `run`.
import type { ExpressionScope } from './expressions';
import { canonicalKey, isPlainObject } from './keys';
import type { PathSeg } from './issues';

export interface Place {
  scope: ExpressionScope;
  /** A job's or step's `when`: one expression, with or without `${{ }}`. */
  isCondition: boolean;
  /** A step's `run` script. */
  isRun: boolean;
}

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

function matrixKeysOf(job: Record<string, unknown>): string[] | null {
  const matrix = job.matrix;
  if (!isPlainObject(matrix)) return null;
  const keys = new Set(Object.keys(matrix).filter((k) => canonicalKey(k, MATRIX_FIELDS) === undefined));
  if (Array.isArray(matrix.include)) for (const entry of matrix.include) if (isPlainObject(entry)) for (const k of Object.keys(entry)) keys.add(k);
  return [...keys];
}

/** The length of the job prefix of `path` (`jobs[i]` or `stages[i].jobs[j]`), or 0 outside a job. */
function jobPrefix(path: readonly PathSeg[]): number {
  if (path[0] === 'jobs' && typeof path[1] === 'number') return 2;
  if (path[0] === 'stages' && typeof path[1] === 'number' && path[2] === 'jobs' && typeof path[3] === 'number') return 4;
  return 0;
}

function at(raw: unknown, path: readonly PathSeg[]): unknown {
  let cur = raw;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isPlainObject(cur) && typeof seg === 'string' && Object.hasOwn(cur, seg)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

/** Finds the place of each path, remembering scopes per job and step. */
export class PlaceFinder {
  private readonly scopes = new Map<string, ExpressionScope>();
  private readonly outside: ExpressionScope;

  constructor(
    private readonly raw: unknown,
    private readonly variableNames: string[],
  ) {
    this.outside = { stepsBefore: null, matrixKeys: null, variableNames, inStep: false };
  }

  placeOf(path: readonly PathSeg[]): Place {
    const prefix = jobPrefix(path);
    if (prefix === 0) return { scope: this.outside, isCondition: false, isRun: false };
    const rest = path.slice(prefix);
    const stepIndex = rest[0] === 'steps' && typeof rest[1] === 'number' ? rest[1] : undefined;
    const scope = this.scopeOf(path.slice(0, prefix), stepIndex);
    const field = stepIndex === undefined ? rest : rest.slice(2);
    return { scope, isCondition: field.length === 1 && field[0] === 'when', isRun: stepIndex !== undefined && field.length === 1 && field[0] === 'run' };
  }

  private scopeOf(jobPath: readonly PathSeg[], stepIndex: number | undefined): ExpressionScope {
    const key = `${jobPath.join('/')}#${stepIndex ?? ''}`;
    let scope = this.scopes.get(key);
    if (scope) return scope;
    const job = at(this.raw, jobPath);
    const matrixKeys = isPlainObject(job) ? matrixKeysOf(job) : null;
    let stepsBefore: string[] | null = null;
    if (stepIndex !== undefined) {
      const steps = isPlainObject(job) && Array.isArray(job.steps) ? job.steps.slice(0, stepIndex) : [];
      stepsBefore = steps.flatMap((step: unknown) => (isPlainObject(step) && typeof step.name === 'string' ? [step.name] : []));
    }
    scope = { stepsBefore, matrixKeys, variableNames: this.variableNames, inStep: stepIndex !== undefined };
    this.scopes.set(key, scope);
    return scope;
  }
}
