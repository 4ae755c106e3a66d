// Walks over every string of the raw spec, whatever field it sits in, and the unused-variable
// warning (expressions themselves are checked in expression-check.ts).
import { isPlainObject } from './keys';
import type { IssueCollector, PathSeg } from './issues';

/** Calls `visit` for each string value, depth-first in document order. The value is already depth-checked. */
export function forEachString(value: unknown, visit: (text: string, path: readonly PathSeg[]) => void, path: PathSeg[] = []): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => forEachString(item, visit, [...path, i]));
  else if (isPlainObject(value)) for (const key of Object.keys(value)) forEachString(value[key], visit, [...path, key]);
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
