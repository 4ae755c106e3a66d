// The built-in functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON and the
// status functions. Names are case-insensitive; each has a fixed range of argument counts.
import { ExpressionError } from './errors';
import { EXPRESSION_LIMITS } from './limits';
import { utf8Length } from '../text-guards';
import type { Value } from './values';
import { checkLength, foldCase, itemsOf, looseEquals, toJsonText, toText } from './values';

export interface StatusFlags {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

export interface FunctionDef {
  /** The documented spelling. */
  name: string;
  minArgs: number;
  maxArgs: number;
  call(args: Value[], status: StatusFlags | undefined, offset: number): Value;
}

const def = (name: string, minArgs: number, maxArgs: number, call: FunctionDef['call']): FunctionDef => ({ name, minArgs, maxArgs, call });

const DEFS: FunctionDef[] = [
  def('contains', 2, 2, ([search, item]) => {
    const items = itemsOf(search);
    if (items) return items.some((el) => looseEquals(el, item));
    return foldCase(toText(search)).includes(foldCase(toText(item)));
  }),
  def('startsWith', 2, 2, ([text, prefix]) => foldCase(toText(text)).startsWith(foldCase(toText(prefix)))),
  def('endsWith', 2, 2, ([text, suffix]) => foldCase(toText(text)).endsWith(foldCase(toText(suffix)))),
  def('format', 1, Number.MAX_SAFE_INTEGER, ([template, ...rest], _status, offset) => formatText(toText(template), rest.map(toText), offset)),
  def('join', 1, 2, ([list, separator], _status, offset) => {
    const items = itemsOf(list);
    if (!items) return toText(list);
    const sep = separator === undefined ? ',' : toText(separator);
    let out = '';
    items.forEach((item, i) => {
      out += (i > 0 ? sep : '') + toText(item);
      checkLength(out, offset);
    });
    return out;
  }),
  def('toJSON', 1, 1, ([value], _status, offset) => toJsonText(value, 2, offset)),
  def('fromJSON', 1, 1, ([value], _status, offset) => fromJson(toText(value), offset)),
  def('success', 0, 0, (_args, status) => status?.success === true),
  def('failure', 0, 0, (_args, status) => status?.failure === true),
  def('cancelled', 0, 0, (_args, status) => status?.cancelled === true),
  def('always', 0, 0, () => true),
];

const BY_NAME = new Map(DEFS.map((d) => [foldCase(d.name), d]));

export const FUNCTION_NAMES: readonly string[] = DEFS.map((d) => d.name);
export const STATUS_FUNCTIONS: readonly string[] = ['success', 'failure', 'always', 'cancelled'];

export function findFunction(name: string): FunctionDef | undefined {
  return BY_NAME.get(foldCase(name));
}

/** What is wrong with calling `fn` with `count` arguments, if anything. */
export function arityProblem(fn: FunctionDef, count: number): string | undefined {
  if (count >= fn.minArgs && count <= fn.maxArgs) return undefined;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  const wanted =
    fn.minArgs === fn.maxArgs ? plural(fn.minArgs) : fn.maxArgs === Number.MAX_SAFE_INTEGER ? `at least ${plural(fn.minArgs)}` : `${fn.minArgs} to ${plural(fn.maxArgs)}`;
  return `${fn.name}() takes ${wanted}, got ${count}`;
}

/** `format('{0} and {1}', a, b)`; `{{` and `}}` stand for literal braces. */
export function formatText(template: string, args: readonly string[], offset: number): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      out += c;
      i += 2;
    } else if (c === '{') {
      const close = template.indexOf('}', i);
      const index = close < 0 ? '' : template.slice(i + 1, close);
      if (!/^\d{1,4}$/.test(index)) throw new ExpressionError(`format(): '{' at character ${i + 1} must start a placeholder such as {0}; write '{{' for a literal brace`, offset);
      if (Number(index) >= args.length) throw new ExpressionError(`format(): placeholder {${index}} has no argument (${args.length} given)`, offset);
      out += args[Number(index)];
      i = close + 1;
    } else if (c === '}') {
      throw new ExpressionError(`format(): '}' at character ${i + 1} closes nothing; write '}}' for a literal brace`, offset);
    } else {
      const next = nextBrace(template, i);
      out += template.slice(i, next);
      i = next;
    }
    checkLength(out, offset);
  }
  return out;
}

function nextBrace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === '{' || text[i] === '}') return i;
  return text.length;
}

function fromJson(text: string, offset: number): Value {
  if (utf8Length(text) > EXPRESSION_LIMITS.maxFromJsonBytes) {
    throw new ExpressionError(`fromJSON(): the text is larger than ${EXPRESSION_LIMITS.maxFromJsonBytes} bytes`, offset);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ExpressionError(`fromJSON(): the text is not valid JSON (${err instanceof Error ? err.message : String(err)})`, offset);
  }
  if (depthOf(parsed) > EXPRESSION_LIMITS.maxFromJsonDepth) {
    throw new ExpressionError(`fromJSON(): the value nests more than ${EXPRESSION_LIMITS.maxFromJsonDepth} levels deep`, offset);
  }
  return parsed as Value;
}

function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: cur, depth } = stack.pop()!;
    if (cur === null || typeof cur !== 'object') continue;
    max = Math.max(max, depth + 1);
    if (max > EXPRESSION_LIMITS.maxFromJsonDepth) return max;
    for (const child of Object.values(cur)) stack.push({ value: child, depth: depth + 1 });
  }
  return max;
}
