// Tokens → syntax tree, by recursive descent with GitHub Actions precedence:
// grouping, then property/index access, `!`, `< <= > >=`, `== !=`, `&&`, `||`.
import type { CompareOp, ExpressionNode, LogicalOp } from './ast';
import { childrenOf } from './ast';
import { ExpressionError } from './errors';
import { tokenize } from './lexer';
import type { Punct, Token } from './lexer';
import { EXPRESSION_LIMITS } from './limits';

export type ParseResult = { ok: true; ast: ExpressionNode } | { ok: false; error: ExpressionError };

export function parseExpression(text: string): ParseResult {
  try {
    if (typeof text !== 'string') return { ok: false, error: new ExpressionError('an expression must be text', 0) };
    if (text.length > EXPRESSION_LIMITS.maxLength) {
      return { ok: false, error: new ExpressionError(`the expression is ${text.length} characters long; at most ${EXPRESSION_LIMITS.maxLength} are allowed`, 0) };
    }
    if (text.trim() === '') return { ok: false, error: new ExpressionError('the expression is empty', 0) };
    const ast = new Parser(tokenize(text)).parseAll();
    checkDepth(ast);
    return { ok: true, ast };
  } catch (err) {
    if (err instanceof ExpressionError) return { ok: false, error: err };
    return { ok: false, error: new ExpressionError('the expression is too deeply nested to parse', 0) };
  }
}

function checkDepth(root: ExpressionNode): void {
  const stack: Array<{ node: ExpressionNode; depth: number }> = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > EXPRESSION_LIMITS.maxDepth) throw tooDeep(node.offset);
    for (const child of childrenOf(node)) stack.push({ node: child, depth: depth + 1 });
  }
}

const tooDeep = (offset: number) => new ExpressionError(`the expression nests more than ${EXPRESSION_LIMITS.maxDepth} levels deep`, offset);
const COMPARE: readonly string[] = ['<', '<=', '>', '>='];
const EQUALITY: readonly string[] = ['==', '!='];

class Parser {
  private pos = 0;
  private nesting = 0;

  constructor(private readonly tokens: Token[]) {}

  parseAll(): ExpressionNode {
    const node = this.parseOr();
    const next = this.peek();
    if (next.type !== 'eof') throw new ExpressionError(`found ${describe(next)} after a complete expression; join conditions with && or ||`, next.offset);
    return node;
  }

  private parseOr(): ExpressionNode {
    return this.parseLogical('||', () => this.parseLogical('&&', () => this.parseEquality()));
  }

  private parseLogical(op: LogicalOp, operand: () => ExpressionNode): ExpressionNode {
    const first = operand();
    const operands = [first];
    while (this.isPunct(op)) {
      this.pos++;
      operands.push(operand());
    }
    return operands.length === 1 ? first : { kind: 'logical', op, operands, offset: first.offset };
  }

  private parseEquality(): ExpressionNode {
    return this.parseBinary(EQUALITY, () => this.parseComparison());
  }

  private parseComparison(): ExpressionNode {
    return this.parseBinary(COMPARE, () => this.parseUnary());
  }

  private parseBinary(ops: readonly string[], operand: () => ExpressionNode): ExpressionNode {
    let left = operand();
    for (let tok = this.peek(); tok.type === 'punct' && ops.includes(tok.value); tok = this.peek()) {
      this.pos++;
      left = { kind: 'compare', op: tok.value as CompareOp, left, right: operand(), offset: tok.offset };
    }
    return left;
  }

  private parseUnary(): ExpressionNode {
    const tok = this.peek();
    if (!this.isPunct('!')) return this.parsePostfix();
    this.pos++;
    return this.nested(tok.offset, () => ({ kind: 'not', operand: this.parseUnary(), offset: tok.offset }));
  }

  private parsePostfix(): ExpressionNode {
    let node = this.parsePrimary();
    for (;;) {
      const tok = this.peek();
      if (this.isPunct('.')) {
        this.pos++;
        const name = this.next();
        if (name.type === 'punct' && name.value === '*') node = { kind: 'wildcard', object: node, offset: tok.offset };
        else if (name.type === 'ident') node = { kind: 'property', object: node, name: name.value, offset: name.offset };
        else throw new ExpressionError(`expected a property name after '.', got ${describe(name)}`, name.offset);
      } else if (this.isPunct('[')) {
        this.pos++;
        if (this.isPunct('*')) {
          this.pos++;
          node = { kind: 'wildcard', object: node, offset: tok.offset };
        } else {
          const object = node;
          node = this.nested(tok.offset, () => ({ kind: 'index', object, index: this.parseOr(), offset: tok.offset }));
        }
        this.expect(']', "to close '['");
      } else return node;
    }
  }

  private parsePrimary(): ExpressionNode {
    const tok = this.next();
    switch (tok.type) {
      case 'number':
      case 'string':
        return { kind: 'literal', value: tok.value, offset: tok.offset };
      case 'ident':
        if (tok.value === 'true' || tok.value === 'false') return { kind: 'literal', value: tok.value === 'true', offset: tok.offset };
        if (tok.value === 'null') return { kind: 'literal', value: null, offset: tok.offset };
        if (this.isPunct('(')) return this.parseCall(tok.value, tok.offset);
        return { kind: 'context', name: tok.value, offset: tok.offset };
      case 'punct':
        if (tok.value === '(') {
          const inner = this.nested(tok.offset, () => this.parseOr());
          this.expect(')', "to close '('");
          return inner;
        }
        throw new ExpressionError(`expected a value, got ${describe(tok)}`, tok.offset);
      case 'eof':
        throw new ExpressionError('the expression ends where a value is expected', tok.offset);
    }
  }

  private parseCall(name: string, offset: number): ExpressionNode {
    this.pos++;
    const args: ExpressionNode[] = [];
    return this.nested(offset, () => {
      if (!this.isPunct(')')) {
        for (;;) {
          args.push(this.parseOr());
          if (!this.isPunct(',')) break;
          this.pos++;
        }
      }
      this.expect(')', `to close the arguments of ${name}(`);
      return { kind: 'call', name, args, offset };
    });
  }

  private nested<T>(offset: number, parse: () => T): T {
    if (++this.nesting > EXPRESSION_LIMITS.maxDepth) throw tooDeep(offset);
    const result = parse();
    this.nesting--;
    return result;
  }

  private expect(value: Punct, why: string): void {
    const tok = this.next();
    if (tok.type !== 'punct' || tok.value !== value) throw new ExpressionError(`expected '${value}' ${why}, got ${describe(tok)}`, tok.offset);
  }

  private isPunct(value: Punct): boolean {
    const tok = this.peek();
    return tok.type === 'punct' && tok.value === value;
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const tok = this.tokens[this.pos];
    if (tok.type !== 'eof') this.pos++;
    return tok;
  }
}

function describe(tok: Token): string {
  switch (tok.type) {
    case 'eof':
      return 'the end of the expression';
    case 'number':
      return `the number ${tok.text}`;
    case 'string':
      return 'a string';
    case 'ident':
      return `'${tok.value}'`;
    case 'punct':
      return `'${tok.value}'`;
  }
}
