// Walks over every string of the raw spec, whatever field it sits in, and the unused-variable
// warning (expressions themselves are checked in expression-check.ts).
import { isPlainObject } from './keys';
import type { IssueCollector, PathSeg } from './issues';

/**
 * Calls `visit` for each string value, depth-first in document order. The value is already
 * depth-checked. One path array is reused for the whole walk (a spec has tens of thousands of
 * strings): it is only valid during the call, so copy it to keep it.
 */
export function forEachString(value: unknown, visit: (text: string, path: readonly PathSeg[]) => void, path: PathSeg[] = []): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      forEachString(value[i], visit, path);
      path.pop();
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      path.push(key);
      forEachString(value[key], visit, path);
      path.pop();
    }
  }
}

const VARIABLE_DOT = /\bvariables\.([A-Za-z_][\w-]*)/g;
const VARIABLE_INDEX = /\bvariables\[\s*['"]([^'"]+)['"]\s*\]/g;

/** Names referenced as `variables.<name>` (or `variables['name']`) in any string of the spec. */
export function referencedVariables(value: unknown): Set<string> {
  const names = new Set<string>();
  forEachString(value, (text) => {
    if (!text.includes('variables')) return;
    addMatches(text, VARIABLE_DOT, names);
    addMatches(text, VARIABLE_INDEX, names);
  });
  return names;
}

/** Each match's first group; exec on the shared global regex (matchAll would copy it per string). */
function addMatches(text: string, re: RegExp, names: Set<string>): void {
  re.lastIndex = 0;
  for (let match = re.exec(text); match; match = re.exec(text)) names.add(match[1]);
}

export function warnUnusedVariables(value: unknown, issues: IssueCollector): void {
  if (!isPlainObject(value) || !isPlainObject(value.variables)) return;
  const used = referencedVariables(value);
  for (const name of Object.keys(value.variables)) {
    if (!used.has(name)) issues.warning(['variables', name], `unused variable '${name}': nothing in the spec refers to \${{ variables.${name} }}`);
  }
}
