// The quoting contexts of bash the scanner tracks, and how a variable reference is written in each.
import type { HeredocStart } from './shell-heredoc';

export type ShellContext = 'bare' | 'double-quoted' | 'single-quoted' | 'ansi-c' | 'heredoc' | 'quoted-heredoc' | 'comment' | 'arithmetic';
/** How a reference must be written at a point: `"${X}"`, `${X}`, `'"${X}"'` or `'"${X}"$'`. */
export type RefStyle = 'quoted' | 'inner' | 'break-single' | 'break-ansi';

export type CodeFrame = { kind: 'code'; close: ')' | '`' | ']]' | null; parens: number; arith: boolean; marks: number[] };

export type Frame =
  /** Commands: the top level, `$( … )`, `` ` … ` ``, and `[[ … ]]` (arith: it compares numbers). */
  | CodeFrame
  | { kind: 'dq' | 'sq' | 'ansi' | 'comment' }
  | { kind: 'param'; quoted: boolean; braces: number; subscript: number }
  | { kind: 'arith'; parens: number }
  | { kind: 'heredoc'; doc: HeredocStart; line: string; plain: boolean };

export interface InsertionPoint {
  context: ShellContext;
  style: RefStyle;
  /** A backslash that would escape the first character of the reference precedes it. */
  escaped: boolean;
  /** An unescaped `$` that would combine with the reference precedes it. */
  dollar: boolean;
}

export const codeFrame = (close: CodeFrame['close']): CodeFrame => ({ kind: 'code', close, parens: 0, arith: false, marks: [] });

/** The context and reference style inside `frame` (the innermost one). */
export function placementIn(frame: Frame): Pick<InsertionPoint, 'context' | 'style'> {
  switch (frame.kind) {
    case 'dq':
      return { context: 'double-quoted', style: 'inner' };
    case 'sq':
      return { context: 'single-quoted', style: 'break-single' };
    case 'ansi':
      return { context: 'ansi-c', style: 'break-ansi' };
    case 'comment':
      return { context: 'comment', style: 'inner' };
    case 'arith':
      return { context: 'arithmetic', style: 'quoted' };
    case 'param':
      return { context: frame.subscript > 0 ? 'arithmetic' : frame.quoted ? 'double-quoted' : 'bare', style: frame.quoted ? 'inner' : 'quoted' };
    case 'heredoc':
      return { context: frame.doc.quoted ? 'quoted-heredoc' : 'heredoc', style: 'inner' };
    case 'code':
      return { context: frame.arith ? 'arithmetic' : 'bare', style: 'quoted' };
  }
}
