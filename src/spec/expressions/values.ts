// Values as GitHub Actions expressions see them, and their coercions: truthiness, numbers,
// text, loose equality (case-insensitive for strings) and ordering.
import { ExpressionError } from './errors';
import { EXPRESSION_LIMITS } from './limits';

/** The result of a wildcard (`a.*`): further property access applies to each item. */
export class FilteredArray {
  constructor(readonly items: Value[]) {}
}

export type Value = null | boolean | number | string | Value[] | { [key: string]: unknown } | FilteredArray;

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

/** Any JavaScript value read from a context, as an expression value (functions, undefined … become null). */
export function toValue(raw: unknown): Value {
  switch (typeof raw) {
    case 'string':
    case 'number':
    case 'boolean':
      return raw;
    case 'bigint':
      return Number(raw);
    case 'object':
      return raw as Value;
    default:
      return null;
  }
}

export function kindOf(value: Value): Kind {
  if (value === null) return 'null';
  if (Array.isArray(value) || value instanceof FilteredArray) return 'array';
  return typeof value === 'object' ? 'object' : (typeof value as Kind);
}

export function isTruthy(value: Value): boolean {
  if (value === null || value === false || value === '') return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  return true;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const PREFIXED = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+)$/;

export function toNumber(value: Value): number {
  switch (kindOf(value)) {
    case 'null':
      return 0;
    case 'boolean':
      return value ? 1 : 0;
    case 'number':
      return value as number;
    case 'string':
      return stringToNumber(value as string);
    default:
      return NaN;
  }
}

function stringToNumber(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '') return 0;
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const prefixed = PREFIXED.exec(trimmed);
  if (prefixed) return (prefixed[1] === '-' ? -1 : 1) * Number(prefixed[2].toLowerCase());
  return NaN;
}

export function formatNumber(n: number): string {
  if (Object.is(n, -0)) return '0';
  return String(n);
}

/** The value as text: null → '', numbers as written, arrays and objects as compact JSON. */
export function toText(value: Value): string {
  switch (kindOf(value)) {
    case 'null':
      return '';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return formatNumber(value as number);
    case 'string':
      return value as string;
    default:
      return toJsonText(value, undefined);
  }
}

/** JSON text of a value, bounded in size; a value JSON cannot hold becomes an ExpressionError. */
export function toJsonText(value: Value, indent: number | undefined, offset = 0): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(toPlain(value), (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), indent);
  } catch (err) {
    throw new ExpressionError(`the value cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`, offset);
  }
  return checkLength(text ?? 'null', offset);
}

export function checkLength(text: string, offset: number): string {
  if (text.length > EXPRESSION_LIMITS.maxStringLength) {
    throw new ExpressionError(`the expression produces a string of ${text.length} characters; at most ${EXPRESSION_LIMITS.maxStringLength} are allowed`, offset);
  }
  return text;
}

/** A wildcard result as a plain array, so nothing outside the engine sees FilteredArray. */
export function toPlain(value: Value): unknown {
  return value instanceof FilteredArray ? value.items.map(toPlain) : value;
}

export function itemsOf(value: Value): Value[] | undefined {
  if (value instanceof FilteredArray) return value.items;
  return Array.isArray(value) ? value : undefined;
}

export const foldCase = (text: string): string => text.toLowerCase();

/** `==`: same kinds compare directly (strings ignoring case, containers by identity); different kinds as numbers. */
export function looseEquals(a: Value, b: Value): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) {
    const na = toNumber(a);
    const nb = toNumber(b);
    return na === nb;
  }
  switch (ka) {
    case 'null':
      return true;
    case 'string':
      return foldCase(a as string) === foldCase(b as string);
    case 'array':
      return (a instanceof FilteredArray ? a.items : a) === (b instanceof FilteredArray ? b.items : b);
    default:
      return a === b;
  }
}

/** `< <= > >=`: numbers and strings (ignoring case) by order, different kinds as numbers, containers never. */
export function compareValues(a: Value, b: Value, op: '<' | '<=' | '>' | '>='): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  let x: number | string;
  let y: number | string;
  if (ka === kb && ka === 'string') {
    x = foldCase(a as string);
    y = foldCase(b as string);
  } else if (ka === kb && (ka === 'array' || ka === 'object')) {
    return false;
  } else {
    x = toNumber(a);
    y = toNumber(b);
  }
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}
