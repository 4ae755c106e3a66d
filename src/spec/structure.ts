// Shape-independent limits on a parsed value: nesting depth, size, and keys that could reach
// an object's prototype. Runs before schema validation so validation only sees bounded values.
import { SPEC_LIMITS } from './limits';
import { RESERVED_KEYS, isPlainObject } from './keys';
import type { PathSeg } from './issues';

export interface StructureIssue {
  path: PathSeg[];
  message: string;
}

/** Depth-first in document order; stops at the first value over a limit. Recursion is bounded by maxDepth. */
export function checkStructure(value: unknown): StructureIssue[] {
  const issues: StructureIssue[] = [];
  // One path for the whole walk, copied only into an issue: most specs have none.
  const path: PathSeg[] = [];
  let nodes = 0;
  const visit = (cur: unknown): boolean => {
    if (++nodes > SPEC_LIMITS.maxNodes) {
      issues.push({ path: [], message: `the spec has more than ${SPEC_LIMITS.maxNodes} values; it is too large` });
      return false;
    }
    const isList = Array.isArray(cur);
    if (!isList && !isPlainObject(cur)) return true;
    if (path.length >= SPEC_LIMITS.maxDepth) {
      issues.push({ path: [...path], message: `nesting is deeper than ${SPEC_LIMITS.maxDepth} levels` });
      return false;
    }
    if (isList) {
      for (let i = 0; i < cur.length; i++) {
        path.push(i);
        const ok = visit(cur[i]);
        path.pop();
        if (!ok) return false;
      }
      return true;
    }
    const keys = Object.keys(cur);
    // A mapping's reserved keys are reported when it is reached, last key first, before its values are visited.
    for (let i = keys.length - 1; i >= 0; i--) {
      if (RESERVED_KEYS.includes(keys[i])) issues.push({ path: [...path, keys[i]], message: `'${keys[i]}' is not allowed as a key` });
    }
    for (const key of keys) {
      if (RESERVED_KEYS.includes(key)) continue;
      path.push(key);
      const ok = visit(cur[key]);
      path.pop();
      if (!ok) return false;
    }
    return true;
  };
  visit(value);
  return issues;
}
