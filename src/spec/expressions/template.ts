// A string with `${{ … }}` expressions → literal text and expression segments, with offsets.
// `}}` inside a quoted string of the expression does not close it.
import { ExpressionError } from './errors';

export type TemplateSegment =
  | { kind: 'text'; text: string; offset: number }
  | {
      kind: 'expression';
      /** The text between `${{` and `}}`, as written. */
      source: string;
      /** Offset of `${{`. */
      offset: number;
      /** Offset of `source` (just after `${{`). */
      sourceOffset: number;
      /** Offset just after `}}`. */
      end: number;
    };

export type TemplateResult = { ok: true; segments: TemplateSegment[] } | { ok: false; error: ExpressionError };

export const hasExpression = (text: string): boolean => text.includes('${{');

export function splitTemplate(text: string): TemplateResult {
  const segments: TemplateSegment[] = [];
  let from = 0;
  for (;;) {
    const open = text.indexOf('${{', from);
    if (open < 0) break;
    if (open > from) segments.push({ kind: 'text', text: text.slice(from, open), offset: from });
    const close = findClose(text, open);
    if (close instanceof ExpressionError) return { ok: false, error: close };
    segments.push({ kind: 'expression', source: text.slice(open + 3, close), offset: open, sourceOffset: open + 3, end: close + 2 });
    from = close + 2;
  }
  if (from < text.length) segments.push({ kind: 'text', text: text.slice(from), offset: from });
  return { ok: true, segments };
}

/** Offset of the `}}` that closes the expression opened at `open`, or why there is none. */
function findClose(text: string, open: number): number | ExpressionError {
  let quote = -1;
  for (let i = open + 3; i < text.length; i++) {
    const c = text[i];
    if (quote >= 0) {
      if (c === "'") {
        if (text[i + 1] === "'") i++;
        else quote = -1;
      }
    } else if (c === "'") quote = i;
    else if (c === '}' && text[i + 1] === '}') return i;
    else if (c === '$' && text.startsWith('${{', i)) {
      return new ExpressionError(`'\${{' at character ${open + 1} is not closed with '}}' before the next '\${{'`, open);
    }
  }
  const unclosed = `'\${{' at character ${open + 1} has no closing '}}'`;
  if (quote >= 0) return new ExpressionError(`${unclosed}: the string starting at character ${quote + 1} is not closed`, open);
  return new ExpressionError(unclosed, open);
}
