// Every `${{ … }}` in the spec's strings, and every job and step `when`, parsed and checked for
// where it is written (replacing a mere delimiter check). For text input, issues point at the
// expression inside the string. The model keeps the strings as written: the runtime re-parses.
import { checkExpression, conditionSource, parseExpression, rewriteRunScript, splitTemplate } from './expressions';
import type { ExpressionError, ExpressionProblem, ExpressionScope, ScriptBinding, TemplateSegment } from './expressions';
import { SPEC_LIMITS } from './limits';
import type { IssueCollector, PathSeg, Position } from './issues';
import type { LocateValue, ValueSource } from './parse';
import { forEachPlacedString } from './expression-scope';
import type { ScopeOf } from './expression-scope';

/** A span of the string holding one expression: positions are found by finding it in the source. */
interface Anchor {
  start: number;
  end: number;
}

export function checkSpecExpressions(raw: unknown, issues: IssueCollector, locateValue?: LocateValue): void {
  const checker = new ExpressionChecker();
  forEachPlacedString(raw, (text, path, kind, scope) => {
    if (checker.overLimit) return;
    if (kind !== 'condition' && !text.includes('${{')) return;
    const report = new Reporter(issues, path, text, locateValue);
    if (kind === 'condition') checker.checkCondition(text, scope, report);
    else checker.checkTemplate(text, kind === 'run', scope, report);
    if (checker.overLimit) {
      issues.error([], `the spec has more than ${SPEC_LIMITS.maxExpressions} expressions; at most ${SPEC_LIMITS.maxExpressions} are allowed`);
    }
  });
}

const SCOPED_CONTEXT = /steps|matrix/i;

/** Parse errors and problems of one expression source in one scope (the same text recurs often). */
type Verdict = { parseError: ExpressionError; problems?: undefined } | { parseError?: undefined; problems: ExpressionProblem[] };

class ExpressionChecker {
  private expressions = 0;
  private readonly verdicts = new Map<ExpressionScope | symbol, Map<string, Verdict>>();
  private readonly anyScope = Symbol('any scope');

  get overLimit(): boolean {
    return this.expressions > SPEC_LIMITS.maxExpressions;
  }

  checkCondition(text: string, scope: ScopeOf, report: Reporter): void {
    const source = conditionSource(text);
    if (!source.ok) return report.error(source.error.message, source.error.offset, { start: 0, end: text.length });
    this.expressions++;
    const anchor = source.offset === 0 ? { start: 0, end: text.length } : { start: source.offset - 3, end: text.indexOf('}}', source.offset + source.source.length) + 2 };
    this.checkOne(source.source, source.offset, anchor, scope, report, () => `the condition '${snippet(source.source)}'`);
  }

  checkTemplate(text: string, isRun: boolean, scope: ScopeOf, report: Reporter): void {
    const split = splitTemplate(text);
    if (!split.ok) return report.error(split.error.message, split.error.offset, { start: split.error.offset, end: split.error.offset + 3 });
    let failed = false;
    const segments = split.segments.filter((s): s is Extract<TemplateSegment, { kind: 'expression' }> => s.kind === 'expression');
    for (const segment of segments) {
      if (++this.expressions > SPEC_LIMITS.maxExpressions) return;
      const anchor = { start: segment.offset, end: segment.end };
      failed = !this.checkOne(segment.source, segment.sourceOffset, anchor, scope, report, () => `'\${{ ${snippet(segment.source)} }}'`) || failed;
    }
    if (isRun && !failed) warnAboutRun(text, segments, report);
  }

  /** Parses and checks one expression written at `offset` of the string; false when it has errors. */
  private checkOne(source: string, offset: number, anchor: Anchor, scope: ScopeOf, report: Reporter, label: () => string): boolean {
    if (source.trim() === '') {
      report.error("'${{ }}' is empty: write an expression inside it", anchor.start, anchor);
      return false;
    }
    const verdict = this.verdictOf(source, scope);
    if (verdict.parseError) {
      report.error(`${label()}: ${verdict.parseError.message}`, offset + verdict.parseError.offset, anchor);
      return false;
    }
    for (const p of verdict.problems) {
      if (p.severity === 'error') report.error(`${label()}: ${p.message}`, offset + p.offset, anchor);
      else report.warning(`${label()}: ${p.message}`, offset + p.offset, anchor);
    }
    return !verdict.problems.some((p) => p.severity === 'error');
  }

  private verdictOf(source: string, scope: ScopeOf): Verdict {
    // Only `steps` and `matrix` read what differs between scopes (context names are ASCII, any
    // case); any other expression gets the same verdict everywhere, so it is checked once.
    const key = SCOPED_CONTEXT.test(source) ? scope() : this.anyScope;
    let byScope = this.verdicts.get(key);
    if (!byScope) this.verdicts.set(key, (byScope = new Map()));
    let verdict = byScope.get(source);
    if (!verdict) {
      const parsed = parseExpression(source);
      verdict = parsed.ok ? { problems: checkExpression(parsed.ast, scope()) } : { parseError: parsed.error };
      byScope.set(source, verdict);
    }
    return verdict;
  }
}

/** Text without which bash has no arithmetic (`((`, `$((`, `[[ … -eq … ]]`, `${a[…]}`) and no heredoc (`<<`). */
const ARITHMETIC_OR_HEREDOC = /\(\(|\[|<</;

function warnAboutRun(text: string, segments: Array<{ offset: number; end: number; source: string }>, report: Reporter): void {
  // Only bindings in arithmetic or a quoted heredoc earn a warning: most scripts can skip the shell scan.
  if (!ARITHMETIC_OR_HEREDOC.test(text)) return;
  let bindings: ScriptBinding[];
  try {
    bindings = rewriteRunScript(text).bindings;
  } catch (err) {
    return report.error(err instanceof Error ? err.message : String(err), 0, { start: 0, end: 0 });
  }
  bindings.forEach((binding, i) => {
    const segment = segments[i];
    const label = `'\${{ ${snippet(segment.source)} }}'`;
    const anchor = { start: segment.offset, end: segment.end };
    if (binding.context === 'quoted-heredoc') {
      report.warning(`${label} is in a heredoc with a quoted delimiter (<<'EOF'), where bash expands nothing: the script gets the text \${${binding.name}}, not the value; use an unquoted delimiter`, segment.offset, anchor);
    } else if (binding.context === 'arithmetic') {
      report.warning(`${label} is used in shell arithmetic, where bash would run text as code: the step fails at run time unless the value is a plain number`, segment.offset, anchor);
    }
  });
}

const snippet = (source: string): string => {
  const trimmed = source.trim().replace(/\s+/g, ' ');
  return trimmed.length > 60 ? `${trimmed.slice(0, 59)}…` : trimmed;
};

const MAX_LOCATED_PER_STRING = 10;

/** Reports issues of one string at the spot they concern, when the spec text shows where that is. */
class Reporter {
  private located = 0;
  private source: ValueSource | undefined | null = null;
  /** Where each anchor text occurs in the value and in its source text; made by the first issue located. */
  private occurrences?: Map<string, { inValue: number[]; inSource: number[] }>;

  constructor(
    private readonly issues: IssueCollector,
    private readonly path: readonly PathSeg[],
    private readonly text: string,
    private readonly locateValue: LocateValue | undefined,
  ) {}

  error(message: string, offset: number, anchor: Anchor): void {
    this.issues.error(this.path, message, this.position(offset, anchor));
  }

  warning(message: string, offset: number, anchor: Anchor): void {
    this.issues.warning(this.path, message, this.position(offset, anchor));
  }

  /**
   * Where `offset` of the string is in the spec text: exact when the anchor text appears in the
   * source as often as in the value (so the n-th of each match), else the value's start.
   */
  private position(offset: number, anchor: Anchor): Position | undefined {
    if (!this.locateValue || this.located >= MAX_LOCATED_PER_STRING || this.issues.errorCount > SPEC_LIMITS.maxIssues) return undefined;
    this.located++;
    if (this.source === null) this.source = this.locateValue(this.path);
    const source = this.source;
    if (!source) return undefined;
    const needle = this.text.slice(anchor.start, anchor.end);
    if (needle === '' || offset < anchor.start || offset > anchor.end) return source.at(0);
    this.occurrences ??= new Map();
    let found = this.occurrences.get(needle);
    if (!found) this.occurrences.set(needle, (found = { inValue: indexesOf(this.text, needle), inSource: indexesOf(source.text, needle) }));
    const nth = found.inValue.indexOf(anchor.start);
    if (nth < 0 || found.inValue.length !== found.inSource.length) return source.at(0);
    return source.at(found.inSource[nth] + offset - anchor.start);
  }
}

/** Start of every (non-overlapping) occurrence of `needle` in `text`. */
function indexesOf(text: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) out.push(i);
  return out;
}
