// Compile-time checks of a parsed expression against where it is written: known contexts and
// functions, argument counts, earlier steps only, matrix keys, fixed properties of trigger/pipeline.
import type { ExpressionNode } from './ast';
import { childrenOf } from './ast';
import { CONTEXT_NAMES, PIPELINE_PROPERTIES, STEP_PROPERTIES, TRIGGER_PROPERTIES, contextNamed } from './context';
import { arityProblem, findFunction, formatText, FUNCTION_NAMES } from './functions';
import { didYouMean } from '../keys';

export interface ExpressionScope {
  /** Names of the earlier steps of the same job; null when not in a step. */
  stepsBefore: string[] | null;
  /** The job's matrix keys; null when the job has no matrix (or outside a job). */
  matrixKeys: string[] | null;
  /** Declared variables (`variables:` and trigger variables). */
  variableNames: string[];
  inStep: boolean;
}

export interface ExpressionProblem {
  message: string;
  /** Offset in the expression text. */
  offset: number;
  severity: 'error' | 'warning';
}

interface Segment {
  /** The property name, or undefined when computed at run time or a wildcard. */
  name: string | undefined;
  offset: number;
}

export function checkExpression(ast: ExpressionNode, scope: ExpressionScope): ExpressionProblem[] {
  const problems: ExpressionProblem[] = [];
  const stack: ExpressionNode[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.kind === 'property' || node.kind === 'index' || node.kind === 'wildcard' || node.kind === 'context') {
      const { root, segments, computed } = accessChain(node);
      if (root.kind === 'context') checkAccess(root.name, root.offset, segments, scope, problems);
      else stack.push(root);
      stack.push(...computed);
      continue;
    }
    if (node.kind === 'call') checkCall(node, problems);
    stack.push(...childrenOf(node));
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

/** `a.b[c].*` → root `a`, segments [b, (computed), (wildcard)], and the computed index nodes. */
function accessChain(node: ExpressionNode): { root: ExpressionNode; segments: Segment[]; computed: ExpressionNode[] } {
  const segments: Segment[] = [];
  const computed: ExpressionNode[] = [];
  let cur = node;
  for (;;) {
    if (cur.kind === 'property') segments.unshift({ name: cur.name, offset: cur.offset });
    else if (cur.kind === 'wildcard') segments.unshift({ name: undefined, offset: cur.offset });
    else if (cur.kind === 'index') {
      const literal = cur.index.kind === 'literal' && typeof cur.index.value === 'string' ? cur.index.value : undefined;
      segments.unshift({ name: literal, offset: cur.index.offset });
      if (literal === undefined) computed.push(cur.index);
    } else return { root: cur, segments, computed };
    cur = cur.object;
  }
}

const hasName = (names: readonly string[], name: string) => names.includes(name) || names.some((n) => n.toLowerCase() === name.toLowerCase());
const listed = (names: readonly string[]) => (names.length > 0 ? names.join(', ') : 'none');
const suggest = (word: string, names: readonly string[]) => {
  const guess = didYouMean(word, names);
  return guess ? `did you mean '${guess}'? ` : '';
};

function checkAccess(rootName: string, rootOffset: number, segments: Segment[], scope: ExpressionScope, problems: ExpressionProblem[]): void {
  const error = (message: string, offset: number) => problems.push({ message, offset, severity: 'error' });
  const context = contextNamed(rootName);
  if (!context) {
    error(`unknown context '${rootName}'; ${suggest(rootName, CONTEXT_NAMES)}use one of ${CONTEXT_NAMES.join(', ')}`, rootOffset);
    return;
  }
  const [first, second] = segments;
  const fixed = context === 'trigger' ? TRIGGER_PROPERTIES : context === 'pipeline' ? PIPELINE_PROPERTIES : undefined;
  if (fixed && first?.name !== undefined && !hasName(fixed, first.name)) {
    error(`unknown property '${first.name}' of ${context}; ${suggest(first.name, fixed)}${context} has ${fixed.join(', ')}`, first.offset);
  } else if (context === 'matrix' && first?.name !== undefined) {
    if (scope.matrixKeys === null) error(`matrix.${first.name} is used, but no matrix applies here: only a job with a 'matrix' has matrix values`, rootOffset);
    else if (!hasName(scope.matrixKeys, first.name)) error(`the matrix has no key '${first.name}'; ${suggest(first.name, scope.matrixKeys)}its keys are ${listed(scope.matrixKeys)}`, first.offset);
  } else if (context === 'variables' && first?.name !== undefined && !hasName(scope.variableNames, first.name)) {
    problems.push({ message: `variable '${first.name}' is not declared under 'variables'; it is empty unless the run provides it`, offset: first.offset, severity: 'warning' });
  } else if (context === 'steps') {
    checkSteps(rootOffset, first, second, scope, error);
  }
}

function checkSteps(rootOffset: number, first: Segment | undefined, second: Segment | undefined, scope: ExpressionScope, error: (m: string, o: number) => void): void {
  if (!scope.inStep || scope.stepsBefore === null) {
    error("the steps context is only available inside a job's steps (in a step's fields or its when)", rootOffset);
    return;
  }
  if (first?.name === undefined) return;
  if (!hasName(scope.stepsBefore, first.name)) {
    const earlier = scope.stepsBefore.length > 0 ? `earlier steps: ${scope.stepsBefore.join(', ')}` : 'this is the first step of the job';
    error(`steps.${first.name} does not name an earlier step of this job; a step can only read the steps before it (${earlier})`, first.offset);
    return;
  }
  if (second?.name !== undefined && !hasName(STEP_PROPERTIES, second.name)) {
    error(`unknown property '${second.name}' of steps.${first.name}; a step has ${STEP_PROPERTIES.join(' and ')}`, second.offset);
  }
}

function checkCall(node: Extract<ExpressionNode, { kind: 'call' }>, problems: ExpressionProblem[]): void {
  const error = (message: string) => problems.push({ message, offset: node.offset, severity: 'error' });
  const fn = findFunction(node.name);
  if (!fn) {
    error(`unknown function '${node.name}'; ${suggest(node.name, FUNCTION_NAMES)}functions are ${FUNCTION_NAMES.join(', ')}`);
    return;
  }
  const arity = arityProblem(fn, node.args.length);
  if (arity) error(arity);
  else if (fn.name === 'format') {
    const [template] = node.args;
    if (template.kind !== 'literal' || typeof template.value !== 'string') return;
    const problem = formatProblem(template.value, node.args.length - 1);
    if (problem) error(problem);
  }
}

function formatProblem(template: string, argCount: number): string | undefined {
  try {
    formatText(template, Array.from({ length: argCount }, () => ''), 0);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
