// Using expressions at run time: a string with `${{ … }}` → its text, and a `when` → a boolean.
import type { ExpressionNode } from './ast';
import { walkNodes } from './ast';
import type { ExpressionContext } from './context';
import { asExpressionError, ExpressionError } from './errors';
import { evaluateValue } from './evaluator';
import { STATUS_FUNCTIONS } from './functions';
import { parseExpression } from './parser';
import { splitTemplate } from './template';
import { checkLength, isTruthy, toText } from './values';

/** Every `${{ expr }}` of `text` replaced by its value as text (null → '', objects and arrays → JSON). */
export function interpolate(text: string, ctx: ExpressionContext): string {
  const split = splitTemplate(text);
  if (!split.ok) throw split.error;
  let out = '';
  for (const segment of split.segments) {
    if (segment.kind === 'text') out += segment.text;
    else out += evaluateToText(segment.source, ctx, segment.sourceOffset);
    checkLength(out, segment.offset);
  }
  return out;
}

/** One expression's value as text; error offsets are shifted by `offset`. */
export function evaluateToText(source: string, ctx: ExpressionContext, offset = 0): string {
  const parsed = parseExpression(source);
  if (!parsed.ok) throw shifted(parsed.error, offset);
  try {
    return toText(evaluateValue(parsed.ast, ctx));
  } catch (err) {
    throw shifted(asExpressionError(err, 0), offset);
  }
}

const shifted = (error: ExpressionError, offset: number) => (offset === 0 ? error : new ExpressionError(error.message, error.offset + offset));

export type ConditionSource = { ok: true; source: string; offset: number } | { ok: false; error: ExpressionError };

/**
 * The expression a `when` holds: the whole text, or the inside of a `${{ … }}` wrapping all of it.
 * Empty text means the default condition, success().
 */
export function conditionSource(when: string): ConditionSource {
  if (!when.includes('${{')) return when.trim() === '' ? { ok: true, source: 'success()', offset: 0 } : { ok: true, source: when, offset: 0 };
  const split = splitTemplate(when);
  if (!split.ok) return split;
  const expressions = split.segments.filter((s) => s.kind === 'expression');
  const textOnly = split.segments.every((s) => s.kind === 'expression' || s.text.trim() === '');
  if (expressions.length === 1 && textOnly) {
    const only = expressions[0];
    if (only.kind === 'expression') return { ok: true, source: only.source, offset: only.sourceOffset };
  }
  const text = split.segments.find((s) => s.kind === 'text' && s.text.trim() !== '');
  const textStart = text?.kind === 'text' ? text.offset + text.text.length - text.text.trimStart().length : 0;
  const at = expressions.length > 1 ? expressions[1].offset : textStart;
  return {
    ok: false,
    error: new ExpressionError('a condition must be one expression: wrap all of it in a single ${{ … }}, or write it without ${{ }}', at),
  };
}

/** True when the expression calls success(), failure(), always() or cancelled(). */
export function usesStatusFunction(ast: ExpressionNode): boolean {
  for (const node of walkNodes(ast)) if (node.kind === 'call' && STATUS_FUNCTIONS.includes(node.name.toLowerCase())) return true;
  return false;
}

export type ParsedCondition = { ok: true; ast: ExpressionNode; offset: number } | { ok: false; error: ExpressionError };

/**
 * Parses a `when`; without a status function it means `success() && (<when>)`. Offsets in the
 * tree are relative to the expression, which starts at `offset` in `when`.
 */
export function parseCondition(when: string): ParsedCondition {
  const source = conditionSource(when);
  if (!source.ok) return source;
  const parsed = parseExpression(source.source);
  if (!parsed.ok) return { ok: false, error: shifted(parsed.error, source.offset) };
  if (usesStatusFunction(parsed.ast)) return { ok: true, ast: parsed.ast, offset: source.offset };
  const success: ExpressionNode = { kind: 'call', name: 'success', args: [], offset: 0 };
  return { ok: true, ast: { kind: 'logical', op: '&&', operands: [success, parsed.ast], offset: 0 }, offset: source.offset };
}

export function evaluateCondition(when: string, ctx: ExpressionContext): boolean {
  const parsed = parseCondition(when);
  if (!parsed.ok) throw parsed.error;
  try {
    return isTruthy(evaluateValue(parsed.ast, ctx));
  } catch (err) {
    throw shifted(asExpressionError(err, 0), parsed.offset);
  }
}
