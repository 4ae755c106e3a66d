// Shape-independent limits on a parsed value: nesting depth, size, and keys that could reach
// an object's prototype. Runs before schema validation so validation only sees bounded values.
import { SPEC_LIMITS } from './limits';
import { RESERVED_KEYS, isPlainObject } from './keys';
import type { PathSeg } from './issues';

export interface StructureIssue {
  path: PathSeg[];
  message: string;
}

export function checkStructure(value: unknown): StructureIssue[] {
  const issues: StructureIssue[] = [];
  const stack: Array<{ value: unknown; path: PathSeg[] }> = [{ value, path: [] }];
  let nodes = 0;
  while (stack.length > 0) {
    const { value: cur, path } = stack.pop()!;
    if (++nodes > SPEC_LIMITS.maxNodes) {
      issues.push({ path: [], message: `the spec has more than ${SPEC_LIMITS.maxNodes} values; it is too large` });
      break;
    }
    const isList = Array.isArray(cur);
    if (!isList && !isPlainObject(cur)) continue;
    if (path.length >= SPEC_LIMITS.maxDepth) {
      issues.push({ path, message: `nesting is deeper than ${SPEC_LIMITS.maxDepth} levels` });
      break;
    }
    if (isList) {
      for (let i = cur.length - 1; i >= 0; i--) stack.push({ value: cur[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(cur);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (RESERVED_KEYS.includes(key)) issues.push({ path: [...path, key], message: `'${key}' is not allowed as a key` });
      else stack.push({ value: cur[key], path: [...path, key] });
    }
  }
  return issues;
}
