// Does a normalized webhook event satisfy an event trigger's filters (CompiledTrigger of type 'event')?
import type { NormalizedEvent } from './normalize';

/**
 * Glob → anchored RegExp. `*` stays within a path segment, `**` (a whole segment) spans any number
 * of segments, `?` is one non-slash character; everything else is literal. Hand-written rather than
 * picomatch/minimatch: those are only dev-tool dependencies here, and their defaults (dotfiles not
 * matched by `*`, braces, extglobs, `[…]` classes) are not these semantics. `*` matches dotfiles.
 */
export function globToRegExp(glob: string): RegExp {
  // `**/**` is the same as `**`; collapsing keeps the segment logic below simple.
  const segments = String(glob).split('/').filter((s, i, all) => !(s === '**' && all[i - 1] === '**'));
  let out = '';
  segments.forEach((seg, i) => {
    const isFirst = i === 0;
    const isLast = i === segments.length - 1;
    if (seg === '**') {
      if (isFirst && isLast) out += '.*';
      else if (isFirst) out += '(?:.*/)?'; // `**/x`: x at any depth, the top included
      else if (isLast) out += '(?:/.*)?'; // `x/**`: x itself or anything below it
      else out += '/(?:.*/)?'; // `a/**/b`: zero or more segments in between
      return;
    }
    if (!isFirst && segments[i - 1] !== '**') out += '/';
    out += seg
      .replace(/\*+/g, '*') // `a**b` inside a segment is just `a*b`
      .replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : `\\${c}`));
  });
  return new RegExp(`^${out}$`, 's'); // dotAll: `**` must not stop at a newline inside a file name
}

/** `*` and `?` within one segment: greedy with a single backtrack point, O(pattern × text) at worst. */
function segmentMatch(pattern: string, text: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === text[i]))) { p++; i++; }
    else if (p < pattern.length && pattern[p] === '*') { star = p++; mark = i; }
    else if (star !== -1) { p = star + 1; i = ++mark; }
    else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Same answer as `globToRegExp(glob).test(path)`, without the regex: a glob such as `*a*a*b` makes a
 * backtracking regex take seconds on a long file name from a pushed commit, and this runs per webhook.
 */
export function globMatch(glob: string, path: string): boolean {
  const segments = String(glob).split('/').filter((s, i, all) => !(s === '**' && all[i - 1] === '**'));
  const parts = String(path).split('/');
  // reach[k]: the glob segments so far can consume exactly the first k path segments.
  let reach = new Array<boolean>(parts.length + 1).fill(false);
  reach[0] = true;
  for (const seg of segments) {
    const next = new Array<boolean>(parts.length + 1).fill(false);
    if (seg === '**') {
      const from = reach.indexOf(true); // `**` consumes any number of whole segments
      if (from !== -1) next.fill(true, from);
    } else {
      for (let k = 0; k < parts.length; k++) if (reach[k] && segmentMatch(seg, parts[k])) next[k + 1] = true;
    }
    reach = next;
  }
  return reach[parts.length];
}

/** Option names as in CompiledTrigger (src/spec/model.ts); an empty list means "no filter", like an absent one. */
export interface TriggerFilter {
  events?: readonly string[];
  branches?: readonly string[];
  paths?: readonly string[];
}

export type MatchResult = { matched: true } | { matched: false; reason: string };

const ALL_EVENTS = ['push', 'tag', 'pull_request'];
const given = (list: readonly string[] | undefined) => {
  const strings = Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  return strings.length > 0 ? strings : null;
};
const show = (list: readonly string[]) => `[${list.join(', ')}]`;

export function matchTrigger(event: NormalizedEvent, options: TriggerFilter = {}): MatchResult {
  const events = given(options.events) ?? ALL_EVENTS;
  if (!events.includes(event.event)) return { matched: false, reason: `event "${event.event}" is not in events ${show(events)}` };

  // Branch filters apply to pushes and pull requests (against the head branch); a tag has no branch.
  const branches = given(options.branches);
  if (branches && event.event !== 'tag') {
    if (event.branch === null) return { matched: false, reason: `${event.event} event has no branch to match branches ${show(branches)}` };
    const branch = event.branch;
    if (!branches.some((b) => globMatch(b, branch))) {
      return { matched: false, reason: `branch "${branch}" matches none of branches ${show(branches)}` };
    }
  }

  // No path information (tags, pull requests, truncated commit lists) cannot rule a run out.
  const paths = given(options.paths);
  if (paths && event.changedPaths.length > 0) {
    if (!event.changedPaths.some((p) => paths.some((glob) => globMatch(glob, p)))) {
      return { matched: false, reason: `no changed path matches paths ${show(paths)}` };
    }
  }
  return { matched: true };
}
