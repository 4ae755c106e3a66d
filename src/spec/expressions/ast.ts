// The syntax tree of an expression. Offsets point into the parsed text (for error positions).

export type Literal = null | boolean | number | string;
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicalOp = '&&' | '||';

export type ExpressionNode =
  | { kind: 'literal'; value: Literal; offset: number }
  /** A context name: `trigger`, `steps`, … */
  | { kind: 'context'; name: string; offset: number }
  /** `object.name` */
  | { kind: 'property'; object: ExpressionNode; name: string; offset: number }
  /** `object[index]` */
  | { kind: 'index'; object: ExpressionNode; index: ExpressionNode; offset: number }
  /** `object.*` or `object[*]` */
  | { kind: 'wildcard'; object: ExpressionNode; offset: number }
  | { kind: 'not'; operand: ExpressionNode; offset: number }
  | { kind: 'compare'; op: CompareOp; left: ExpressionNode; right: ExpressionNode; offset: number }
  /** `a && b && c` as one node, so long chains do not deepen the tree. */
  | { kind: 'logical'; op: LogicalOp; operands: ExpressionNode[]; offset: number }
  | { kind: 'call'; name: string; args: ExpressionNode[]; offset: number };

/** Every node of the tree, parents before children (iterative: safe on any depth). */
export function* walkNodes(root: ExpressionNode): Generator<ExpressionNode> {
  const stack: ExpressionNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    yield node;
    const children = childrenOf(node);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}

export function childrenOf(node: ExpressionNode): ExpressionNode[] {
  switch (node.kind) {
    case 'literal':
    case 'context':
      return [];
    case 'property':
    case 'wildcard':
      return [node.object];
    case 'index':
      return [node.object, node.index];
    case 'not':
      return [node.operand];
    case 'compare':
      return [node.left, node.right];
    case 'logical':
      return node.operands;
    case 'call':
      return node.args;
  }
}
