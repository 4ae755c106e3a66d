// A small bash lexer that only tracks quoting: at any point of a script it can say whether the
// text there is bare, inside "…", '…', $'…', a comment, a heredoc body or arithmetic.
import { codeFrame as code, placementIn } from './shell-frames';
import type { CodeFrame, Frame, InsertionPoint } from './shell-frames';
import { endsHeredoc, readHeredocStart } from './shell-heredoc';
import type { HeredocStart } from './shell-heredoc';

export type { InsertionPoint, RefStyle, ShellContext } from './shell-frames';

const SEPARATOR = /[\s;&|()<>]/;
const NUMERIC_TEST = /^-(eq|ne|lt|le|gt|ge)$/;

export class ShellScanner {
  private readonly stack: Frame[] = [code(null)];
  private readonly heredocs: HeredocStart[] = [];
  private readonly arithmetic = new Set<number>();
  private escape = false;
  private dollar = false;
  private wordStart = true;
  private word = '';

  /** Ids (given to insertionPoint) that turned out to sit in arithmetic, e.g. `[[ X -gt 1 ]]`. */
  arithmeticIds(): ReadonlySet<number> {
    this.finishWord();
    for (const frame of this.stack) if (frame.kind === 'code' && frame.arith) for (const id of frame.marks) this.arithmetic.add(id);
    return this.arithmetic;
  }

  feed(text: string): void {
    for (let i = 0; i < text.length; i++) i = this.step(text, i);
  }

  insertionPoint(id: number): InsertionPoint {
    const top = this.top();
    const point: InsertionPoint = { ...placementIn(top), escaped: this.escape, dollar: this.dollar };
    if (top.kind === 'heredoc') top.plain = false;
    this.enclosingTest()?.marks.push(id);
    this.escape = false;
    this.dollar = false;
    this.wordStart = false;
    this.word += '\u0000';
    return point;
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1];
  }

  private enclosingTest(): CodeFrame | undefined {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i];
      if (frame.kind === 'code') return frame.close === ']]' ? frame : undefined;
    }
    return undefined;
  }

  private push(frame: Frame): void {
    this.stack.push(frame);
  }

  private pop(): void {
    const frame = this.stack.pop();
    if (frame?.kind === 'code' && frame.arith) for (const id of frame.marks) this.arithmetic.add(id);
    if (this.stack.length === 0) this.stack.push(code(null));
  }

  /** Handles text[i]; returns the index of the last character consumed. */
  private step(text: string, i: number): number {
    const c = text[i];
    const top = this.top();
    this.dollar = false;
    if (this.escape) {
      this.escape = false;
      if (top.kind === 'heredoc' && c !== '\n') top.line += c;
      this.word += c;
      this.wordStart = false;
      return i;
    }
    switch (top.kind) {
      case 'code':
        return this.stepCode(top, text, i);
      case 'sq':
        if (c === "'") this.pop();
        return i;
      case 'ansi':
        if (c === '\\') this.escape = true;
        else if (c === "'") this.pop();
        return i;
      case 'comment':
        if (c !== '\n') return i;
        this.pop();
        return this.step(text, i);
      case 'dq':
        if (c === '"') this.pop();
        else if (c === '\\') this.escape = true;
        else return this.expansion(text, i, true);
        return i;
      case 'param':
        return this.stepParam(top, text, i);
      case 'arith':
        return this.stepArith(top, text, i);
      case 'heredoc':
        return this.stepHeredoc(top, text, i);
    }
  }

  private stepCode(frame: CodeFrame, text: string, i: number): number {
    const c = text[i];
    if (SEPARATOR.test(c)) {
      const before = this.top();
      this.finishWord();
      if (this.top() !== before) return this.step(text, i);
      const atWordStart = this.wordStart;
      this.wordStart = true;
      if (c === '(') {
        if (atWordStart && text[i + 1] === '(') {
          this.push({ kind: 'arith', parens: 0 });
          return i + 1;
        }
        frame.parens++;
      } else if (c === ')') {
        if (frame.close === ')' && frame.parens === 0) {
          this.pop();
          this.wordStart = false;
        } else if (frame.parens > 0) frame.parens--;
      } else if (c === '<') {
        const heredoc = readHeredocStart(text, i);
        if (heredoc) {
          this.heredocs.push(heredoc);
          return heredoc.end - 1;
        }
        if (text.startsWith('<<<', i)) return i + 2;
      } else if (c === '\n') this.startHeredoc();
      return i;
    }
    const atWordStart = this.wordStart;
    this.wordStart = false;
    if (c === '#' && atWordStart) {
      this.push({ kind: 'comment' });
      return i;
    }
    if (c === '`' && frame.close === '`') {
      this.finishWord();
      this.pop();
      this.wordStart = false;
      return i;
    }
    this.word += /["'`$\\]/.test(c) ? '\u0000' : c;
    if (c === '\\') this.escape = true;
    else if (c === "'") this.push({ kind: 'sq' });
    else if (c === '"') this.push({ kind: 'dq' });
    else return this.expansion(text, i, false);
    return i;
  }

  /** `$…` and backquotes, wherever they expand; `quoted` when inside double quotes or a heredoc. */
  private expansion(text: string, i: number, quoted: boolean): number {
    const c = text[i];
    if (c === '`') {
      this.push(code('`'));
      this.wordStart = true;
      return i;
    }
    if (c !== '$') return i;
    const next = text[i + 1];
    if (next === '(' && text[i + 2] === '(') {
      this.push({ kind: 'arith', parens: 0 });
      return i + 2;
    }
    if (next === '(') {
      this.push(code(')'));
      this.wordStart = true;
    }
    else if (next === '{') this.push({ kind: 'param', quoted, braces: 0, subscript: 0 });
    else if (next === "'" && !quoted) this.push({ kind: 'ansi' });
    else if (next === '"' && !quoted) this.push({ kind: 'dq' });
    else {
      this.dollar = next === undefined;
      return i;
    }
    return i + 1;
  }

  private stepParam(frame: Extract<Frame, { kind: 'param' }>, text: string, i: number): number {
    const c = text[i];
    if (c === '}') {
      if (frame.braces === 0) this.pop();
      else frame.braces--;
    } else if (c === '{') frame.braces++;
    else if (c === '[') frame.subscript++;
    else if (c === ']') frame.subscript = Math.max(0, frame.subscript - 1);
    else if (c === '\\') this.escape = true;
    else if (c === "'" && !frame.quoted) this.push({ kind: 'sq' });
    else if (c === '"') this.push({ kind: 'dq' });
    else return this.expansion(text, i, frame.quoted);
    return i;
  }

  private stepArith(frame: Extract<Frame, { kind: 'arith' }>, text: string, i: number): number {
    const c = text[i];
    if (c === '(') frame.parens++;
    else if (c === ')') {
      if (frame.parens > 0) frame.parens--;
      else {
        this.pop();
        return text[i + 1] === ')' ? i + 1 : i;
      }
    } else if (c === '\\') this.escape = true;
    else if (c === '"') this.push({ kind: 'dq' });
    else if (c === "'") this.push({ kind: 'sq' });
    else return this.expansion(text, i, false);
    return i;
  }

  private stepHeredoc(frame: Extract<Frame, { kind: 'heredoc' }>, text: string, i: number): number {
    const c = text[i];
    if (c === '\n') {
      const ended = frame.plain && endsHeredoc(frame.line, frame.doc);
      frame.line = '';
      frame.plain = true;
      if (ended) {
        this.pop();
        this.startHeredoc();
      }
      return i;
    }
    frame.line += c;
    if (frame.doc.quoted) return i;
    if (c === '\\') {
      this.escape = true;
      return i;
    }
    const depth = this.stack.length;
    const end = this.expansion(text, i, true);
    if (this.stack.length !== depth) frame.plain = false;
    return end;
  }

  private startHeredoc(): void {
    const next = this.heredocs.shift();
    if (next) this.push({ kind: 'heredoc', doc: next, line: '', plain: true });
  }

  /** Ends the current word of a command: `[[` opens a test, `]]` closes it, `-gt` makes it numeric. */
  private finishWord(): void {
    const word = this.word;
    this.word = '';
    const top = this.top();
    if (word === '' || top.kind !== 'code') return;
    if (word === '[[') this.push(code(']]'));
    else if (word === ']]' && top.close === ']]') this.pop();
    else if (top.close === ']]' && NUMERIC_TEST.test(word)) top.arith = true;
  }
}
