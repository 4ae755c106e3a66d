// Matrix expansion: the cartesian product of the axes (in the order written), minus `exclude`,
// plus `include` (which extends matching combinations or adds new ones). At most 256 results.
import { SPEC_LIMITS } from './limits';
import type { PathSeg } from './issues';
import type { MatrixSpec, MatrixValue } from './schema';

export type Combination = Record<string, MatrixValue>;
type Report = (path: PathSeg[], message: string) => void;

const AXIS_NAME = /^[A-Za-z_][\w-]*$/;
/** Products larger than this are refused before enumerating (exclude could not bring them under the cap sensibly). */
const MAX_PRODUCT = SPEC_LIMITS.maxMatrixCombinations * 16;

/** The combinations of a matrix, each with keys in display order; undefined after reporting an error. */
export function expandMatrix(matrix: MatrixSpec, report: Report): Combination[] | undefined {
  const max = SPEC_LIMITS.maxMatrixCombinations;
  const axisNames = matrix.axes.map((axis) => axis.name);
  let ok = true;
  for (const name of axisNames) {
    if (!AXIS_NAME.test(name)) {
      report([name], `matrix axis '${name}' must be a name of letters, digits, _ and - (it is used as matrix.${name})`);
      ok = false;
    }
  }
  if (axisNames.length === 0 && matrix.include.length === 0) {
    report([], 'a matrix needs at least one axis (such as os: [linux, windows]) or an include entry');
    return undefined;
  }
  const product = matrix.axes.reduce((n, axis) => n * axis.values.length, axisNames.length > 0 ? 1 : 0);
  if (product > MAX_PRODUCT) {
    report([], `the matrix expands to ${product} combinations; at most ${max} are allowed`);
    return undefined;
  }
  if (!ok) return undefined;

  let combos: Combination[] = axisNames.length === 0 ? [] : [{}];
  for (const axis of matrix.axes) combos = combos.flatMap((c) => axis.values.map((value) => ({ ...c, [axis.name]: value })));

  matrix.exclude.forEach((entry, i) => {
    if (Object.keys(entry).length === 0) {
      report(['exclude', i], 'an exclude entry needs at least one axis value');
      ok = false;
      return;
    }
    const unknown = Object.keys(entry).find((k) => !axisNames.includes(k));
    if (unknown !== undefined) {
      report(['exclude', i, unknown], `exclude entry uses '${unknown}', which is not a matrix axis (axes: ${axisNames.join(', ') || 'none'})`);
      ok = false;
      return;
    }
    combos = combos.filter((c) => !matches(c, entry, Object.keys(entry)));
  });
  if (!ok) return undefined;

  const original = combos.length;
  for (const [i, entry] of matrix.include.entries()) {
    if (Object.keys(entry).length === 0) {
      report(['include', i], 'an include entry needs at least one key');
      return undefined;
    }
    const axisKeys = Object.keys(entry).filter((k) => axisNames.includes(k));
    const extraKeys = Object.keys(entry).filter((k) => !axisNames.includes(k));
    const matched = combos.slice(0, original).filter((c) => matches(c, entry, axisKeys));
    if (matched.length === 0) combos.push(inDisplayOrder({ ...entry }, axisNames));
    else for (const c of matched) for (const k of extraKeys) c[k] = entry[k];
  }

  const unique = dedupe(combos);
  if (unique.length === 0) {
    report(['exclude'], 'the matrix excludes every combination; nothing would run');
    return undefined;
  }
  if (unique.length > max) {
    report([], `the matrix expands to ${unique.length} combinations; at most ${max} are allowed`);
    return undefined;
  }
  return unique;
}

function matches(combo: Combination, entry: Combination, keys: readonly string[]): boolean {
  return keys.every((k) => Object.hasOwn(combo, k) && combo[k] === entry[k]);
}

function inDisplayOrder(combo: Combination, axisNames: readonly string[]): Combination {
  const out: Combination = {};
  for (const k of axisNames) if (Object.hasOwn(combo, k)) out[k] = combo[k];
  for (const k of Object.keys(combo)) if (!Object.hasOwn(out, k)) out[k] = combo[k];
  return out;
}

function dedupe(combos: Combination[]): Combination[] {
  const seen = new Set<string>();
  return combos.filter((c) => {
    const id = JSON.stringify(Object.entries(c));
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** `build (go=1.25, os=linux)`: the key and display name of one combination. */
export function combinationName(jobName: string, combo: Combination): string {
  return `${jobName} (${Object.entries(combo).map(([k, value]) => `${k}=${String(value)}`).join(', ')})`;
}
