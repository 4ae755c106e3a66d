// Issue bookkeeping: paths as users see them (their own key spellings), with line/column when known.
import type { SpecIssue } from './model';
import { SPEC_LIMITS } from './limits';
import { isPlainObject, spellingsOf } from './keys';

export type PathSeg = string | number;
export interface Position {
  line: number;
  column: number;
}
export type Locate = (path: readonly PathSeg[]) => Position | undefined;

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `['stages', 0, 'jobs', 1, 'steps']` → `stages[0].jobs[1].steps`. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * Rewrites a path of canonical keys into the spelling the user wrote: `continueOnError` becomes
 * `continue_on_error` when that is what the source says. Keys the source does not have stay as given.
 */
export function toOriginalPath(raw: unknown, path: readonly PathSeg[]): PathSeg[] {
  const out: PathSeg[] = [];
  let cur: unknown = raw;
  for (const seg of path) {
    if (typeof seg === 'number') {
      // A single value written where a list is accepted (`needs: build`) has no index to show.
      if (cur !== undefined && !Array.isArray(cur)) continue;
      out.push(seg);
      cur = Array.isArray(cur) ? cur[seg] : undefined;
      continue;
    }
    let key = seg;
    if (isPlainObject(cur) && !Object.hasOwn(cur, seg)) {
      key = spellingsOf(seg).find((spelling) => Object.hasOwn(cur as object, spelling)) ?? seg;
    }
    out.push(key);
    cur = isPlainObject(cur) && Object.hasOwn(cur, key) ? cur[key] : undefined;
  }
  return out;
}

/** A short rendering of a value for messages: `'abc'`, `42`, `a list`, `a mapping`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return isPlainObject(value) ? 'a mapping' : 'an object';
  return `a ${typeof value}`;
}

/** How a message names the field at `path` (in the user's spelling): `'timeout'`, `'needs[1]'`, `the spec`. */
export function subjectOf(path: readonly PathSeg[]): string {
  if (path.length === 0) return 'the spec';
  let i = path.length - 1;
  let indexes = '';
  while (i >= 0 && typeof path[i] === 'number') indexes = `[${path[i--]}]` + indexes;
  return i >= 0 ? `'${String(path[i])}${indexes}'` : `item ${indexes}`;
}

/** Collects errors and warnings against the raw source, translating and locating each path. */
export class IssueCollector {
  private readonly errorList: SpecIssue[] = [];
  private readonly warningList: SpecIssue[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly raw: unknown,
    private readonly locate?: Locate,
  ) {}

  get errorCount(): number {
    return this.errorList.length;
  }

  /** `path` as the user spelled it. */
  originalPath(path: readonly PathSeg[]): PathSeg[] {
    return toOriginalPath(this.raw, path);
  }

  /** An error at `path`; `position` overrides where the path was written (e.g. a spot inside a string). */
  error(path: readonly PathSeg[], message: string, position?: Position): void {
    this.push(this.errorList, path, message, position);
  }

  warning(path: readonly PathSeg[], message: string, position?: Position): void {
    this.push(this.warningList, path, message, position);
  }

  /** An issue whose path and position were already worked out (e.g. a YAML syntax error). */
  addError(issue: SpecIssue): void {
    this.errorList.push(issue);
  }

  addWarning(issue: SpecIssue): void {
    this.warningList.push(issue);
  }

  result(): { errors: SpecIssue[]; warnings: SpecIssue[] } {
    return { errors: capped(byPosition(this.errorList), 'errors'), warnings: capped(byPosition(this.warningList), 'warnings') };
  }

  private push(list: SpecIssue[], path: readonly PathSeg[], message: string, position?: Position): void {
    const original = toOriginalPath(this.raw, path);
    const formatted = formatPath(original);
    const dedupe = `${list === this.errorList ? 'e' : 'w'}\u0000${formatted}\u0000${message}`;
    if (this.seen.has(dedupe)) return;
    this.seen.add(dedupe);
    const issue: SpecIssue = { path: formatted, message };
    const pos = position ?? this.locate?.(original);
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.column;
    }
    list.push(issue);
  }
}

function byPosition(issues: SpecIssue[]): SpecIssue[] {
  if (!issues.some((issue) => issue.line !== undefined)) return issues;
  const key = (issue: SpecIssue): number => (issue.line ?? Number.MAX_SAFE_INTEGER) * 1_000_000 + (issue.column ?? 0);
  return issues
    .map((issue, order) => ({ issue, order }))
    .sort((a, b) => key(a.issue) - key(b.issue) || a.order - b.order)
    .map(({ issue }) => issue);
}

function capped(issues: SpecIssue[], what: string): SpecIssue[] {
  if (issues.length <= SPEC_LIMITS.maxIssues) return issues;
  const shown = issues.slice(0, SPEC_LIMITS.maxIssues);
  shown.push({ path: '', message: `${issues.length - SPEC_LIMITS.maxIssues} more ${what} not shown; fix the ones above first` });
  return shown;
}
