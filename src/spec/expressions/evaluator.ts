// Syntax tree + context → value. Recursion is bounded by the parser's depth limit; every
// failure is an ExpressionError.
import type { ExpressionNode } from './ast';
import { asExpressionError, ExpressionError } from './errors';
import type { ExpressionContext } from './context';
import { contextNamed } from './context';
import { arityProblem, findFunction } from './functions';
import type { Value } from './values';
import { compareValues, FilteredArray, isTruthy, kindOf, looseEquals, toPlain, toText, toValue } from './values';

/** The value of `ast`; arrays produced by wildcards come back as plain arrays. */
export function evaluate(ast: ExpressionNode, ctx: ExpressionContext): unknown {
  return toPlain(evaluateValue(ast, ctx));
}

/** The value of `ast` as the engine sees it (for callers that coerce it further). */
export function evaluateValue(ast: ExpressionNode, ctx: ExpressionContext): Value {
  try {
    return evalNode(ast, ctx);
  } catch (err) {
    throw asExpressionError(err, ast.offset);
  }
}

function evalNode(node: ExpressionNode, ctx: ExpressionContext): Value {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'context': {
      const name = contextNamed(node.name);
      if (!name) throw new ExpressionError(`unknown context '${node.name}'`, node.offset);
      return toValue(hasOwn(ctx, name) ? ctx[name] : null);
    }
    case 'property':
      return property(evalNode(node.object, ctx), node.name);
    case 'index':
      return index(evalNode(node.object, ctx), evalNode(node.index, ctx));
    case 'wildcard':
      return wildcard(evalNode(node.object, ctx));
    case 'not':
      return !isTruthy(evalNode(node.operand, ctx));
    case 'compare': {
      const left = evalNode(node.left, ctx);
      const right = evalNode(node.right, ctx);
      if (node.op === '==') return looseEquals(left, right);
      if (node.op === '!=') return !looseEquals(left, right);
      return compareValues(left, right, node.op);
    }
    case 'logical': {
      let value: Value = null;
      for (const operand of node.operands) {
        value = evalNode(operand, ctx);
        if (isTruthy(value) === (node.op === '||')) return value;
      }
      return value;
    }
    case 'call': {
      const fn = findFunction(node.name);
      if (!fn) throw new ExpressionError(`unknown function '${node.name}'`, node.offset);
      const problem = arityProblem(fn, node.args.length);
      if (problem) throw new ExpressionError(problem, node.offset);
      return fn.call(node.args.map((arg) => evalNode(arg, ctx)), ctx.status, node.offset);
    }
  }
}

function hasOwn(object: unknown, key: string): boolean {
  return typeof object === 'object' && object !== null && Object.hasOwn(object, key);
}

/** A property of an object (exact key first, then ignoring case); anything else reads as null. */
function property(object: Value, name: string): Value {
  if (object instanceof FilteredArray) {
    const out: Value[] = [];
    for (const item of object.items) {
      const value = property(item, name);
      if (value !== null) out.push(value);
    }
    return new FilteredArray(out);
  }
  if (kindOf(object) !== 'object') return null;
  const record = object as Record<string, unknown>;
  if (Object.hasOwn(record, name)) return toValue(record[name]);
  const lower = name.toLowerCase();
  const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return key === undefined ? null : toValue(record[key]);
}

function index(object: Value, key: Value): Value {
  if (object instanceof FilteredArray) {
    const out: Value[] = [];
    for (const item of object.items) {
      const value = index(item, key);
      if (value !== null) out.push(value);
    }
    return new FilteredArray(out);
  }
  if (Array.isArray(object)) {
    if (typeof key !== 'number' || Number.isNaN(key)) return null;
    const i = Math.trunc(key);
    return i >= 0 && i < object.length ? toValue(object[i]) : null;
  }
  if (kindOf(object) !== 'object' || kindOf(key) === 'array' || kindOf(key) === 'object') return null;
  return property(object, toText(key));
}

function wildcard(object: Value): Value {
  if (object instanceof FilteredArray) {
    const out: Value[] = [];
    for (const item of object.items) {
      if (Array.isArray(item)) for (const el of item) out.push(toValue(el));
      else if (kindOf(item) === 'object') for (const el of Object.values(item as object)) out.push(toValue(el));
    }
    return new FilteredArray(out);
  }
  if (Array.isArray(object)) return new FilteredArray(object.map(toValue));
  if (kindOf(object) === 'object') return new FilteredArray(Object.values(object as object).map(toValue));
  return new FilteredArray([]);
}
