// Checks over every string of the raw spec, whatever field it sits in: `${{ … }}` delimiters
// (the expressions themselves are evaluated later, by the expression engine) and variable use.
import { isPlainObject } from './keys';
import { subjectOf } from './issues';
import type { IssueCollector, PathSeg } from './issues';

/** Calls `visit` for each string value, depth-first in document order. The value is already depth-checked. */
export function forEachString(value: unknown, visit: (text: string, path: readonly PathSeg[]) => void, path: PathSeg[] = []): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => forEachString(item, visit, [...path, i]));
  else if (isPlainObject(value)) for (const key of Object.keys(value)) forEachString(value[key], visit, [...path, key]);
}

/** Why the `${{ … }}` delimiters of `text` are wrong, or undefined when they are fine. */
export function expressionDelimiterProblem(text: string): string | undefined {
  let from = 0;
  for (;;) {
    const open = text.indexOf('${{', from);
    if (open < 0) return undefined;
    const close = text.indexOf('}}', open + 3);
    const nested = text.indexOf('${{', open + 3);
    const where = `at character ${open + 1}`;
    if (close < 0) return `has an expression '\${{' ${where} with no closing '}}'`;
    if (nested >= 0 && nested < close) return `has an expression '\${{' ${where} that is not closed with '}}' before the next '\${{'`;
    if (text.slice(open + 3, close).trim() === '') return `has an empty expression '\${{ }}' ${where}`;
    from = close + 2;
  }
}

export function checkExpressionDelimiters(value: unknown, issues: IssueCollector): void {
  forEachString(value, (text, path) => {
    const problem = expressionDelimiterProblem(text);
    if (problem) issues.error(path, `${subjectOf(path)} ${problem}`);
  });
}

const VARIABLE_DOT = /\bvariables\.([A-Za-z_][\w-]*)/g;
const VARIABLE_INDEX = /\bvariables\[\s*['"]([^'"]+)['"]\s*\]/g;

/** Names referenced as `variables.<name>` (or `variables['name']`) in any string of the spec. */
export function referencedVariables(value: unknown): Set<string> {
  const names = new Set<string>();
  forEachString(value, (text) => {
    if (!text.includes('variables')) return;
    for (const match of text.matchAll(VARIABLE_DOT)) names.add(match[1]);
    for (const match of text.matchAll(VARIABLE_INDEX)) names.add(match[1]);
  });
  return names;
}

export function warnUnusedVariables(value: unknown, issues: IssueCollector): void {
  if (!isPlainObject(value) || !isPlainObject(value.variables)) return;
  const used = referencedVariables(value);
  for (const name of Object.keys(value.variables)) {
    if (!used.has(name)) issues.warning(['variables', name], `unused variable '${name}': nothing in the spec refers to \${{ variables.${name} }}`);
  }
}
