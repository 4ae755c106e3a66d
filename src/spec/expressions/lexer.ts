// Expression text → tokens: literals, identifiers and the punctuation of GitHub Actions expressions.
import { ExpressionError } from './errors';

export type Punct = '(' | ')' | '[' | ']' | '.' | ',' | '*' | '!' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||';

export type Token =
  | { type: 'number'; value: number; offset: number; text: string }
  | { type: 'string'; value: string; offset: number }
  | { type: 'ident'; value: string; offset: number }
  | { type: 'punct'; value: Punct; offset: number }
  | { type: 'eof'; offset: number };

const NUMBER = /-?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_-]*/y;
const WORD_CHAR = /[A-Za-z0-9_.]/;
const TWO_CHAR: readonly string[] = ['<=', '>=', '==', '!=', '&&', '||'];
const ONE_CHAR = '()[].,*!<>';

/** True when a `-` after this token can only start a negative number (there is no minus operator). */
function expectsValue(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.type !== 'punct') return false;
  return prev.value !== ')' && prev.value !== ']' && prev.value !== '*';
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const prev = tokens[tokens.length - 1];
    if ((c >= '0' && c <= '9') || (c === '-' && expectsValue(prev)) || (c === '.' && /\d/.test(text[i + 1] ?? '') && expectsValue(prev))) {
      i = readNumber(text, i, tokens);
      continue;
    }
    if (c === "'") {
      i = readString(text, i, tokens);
      continue;
    }
    IDENT.lastIndex = i;
    const ident = IDENT.exec(text);
    if (ident) {
      tokens.push({ type: 'ident', value: ident[0], offset: i });
      i += ident[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR.includes(two)) {
      tokens.push({ type: 'punct', value: two as Punct, offset: i });
      i += 2;
      continue;
    }
    if (ONE_CHAR.includes(c)) {
      tokens.push({ type: 'punct', value: c as Punct, offset: i });
      i++;
      continue;
    }
    throw new ExpressionError(unexpectedCharacter(c), i);
  }
  tokens.push({ type: 'eof', offset: text.length });
  return tokens;
}

function readNumber(text: string, start: number, tokens: Token[]): number {
  NUMBER.lastIndex = start;
  const match = NUMBER.exec(text);
  if (!match) throw new ExpressionError("'-' is not an operator; a negative number is written -1", start);
  const end = start + match[0].length;
  if (end < text.length && WORD_CHAR.test(text[end])) {
    let stop = end;
    while (stop < text.length && /[A-Za-z0-9_.]/.test(text[stop])) stop++;
    throw new ExpressionError(`'${text.slice(start, stop)}' is not a valid number`, start);
  }
  const raw = match[0];
  const negative = raw.startsWith('-');
  const body = negative ? raw.slice(1) : raw;
  const magnitude = /^0[xXoO]/.test(body) ? Number(body.toLowerCase()) : Number(body);
  tokens.push({ type: 'number', value: negative ? -magnitude : magnitude, offset: start, text: raw });
  return end;
}

function readString(text: string, start: number, tokens: Token[]): number {
  let value = '';
  let i = start + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) throw new ExpressionError('this string is not closed: add a closing quote (write a quote inside a string as two quotes)', start);
    value += text.slice(i, close);
    if (text[close + 1] === "'") {
      value += "'";
      i = close + 2;
      continue;
    }
    tokens.push({ type: 'string', value, offset: start });
    return close + 1;
  }
}

function unexpectedCharacter(c: string): string {
  if (c === '"') return "strings are written in single quotes ('text'), not double quotes";
  if (c === '=') return "'=' is not an operator; compare with '=='";
  if (c === '&' || c === '|') return `'${c}' is not an operator; use '${c}${c}'`;
  if (c === '$' || c === '{' || c === '}') return `unexpected '${c}': an expression cannot contain another \${{ … }}`;
  return `unexpected character ${JSON.stringify(c)}`;
}
