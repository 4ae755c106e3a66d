// THE INJECTION DEFENCE for `run` scripts: every `${{ expr }}` becomes a reference to an
// environment variable (ARCENTRA_EXPR_0, …) that the runtime sets to the expression's value,
// so bash receives the value as data and never parses it as code.
//
// The reference is written to suit the quoting at that point (see ShellScanner):
//   bare `"${X}"` · inside "…" `${X}` · inside '…' `'"${X}"'` · inside $'…' `'"${X}"$'`
//   · unquoted heredoc body `${X}` · comment `${X}`.
// Inside a heredoc with a quoted delimiter (<<'EOF') bash expands nothing, so the literal text
// `${ARCENTRA_EXPR_n}` is written there (a tool such as envsubst can fill it in).
// A backslash right before an expression is kept as a literal backslash; so is a `$`.
// Whatever the scanner concludes, a value only ever enters bash through a parameter expansion,
// whose result bash never parses as code — except where bash evaluates text as arithmetic
// (`$(( ))`, `(( ))`, `[[ … -eq … ]]`, array subscripts): such bindings are marked
// `arithmetic`, and bindingEnvironment() accepts only a plain number for them.
import { ExpressionError } from './errors';
import type { ExpressionContext } from './context';
import { evaluateToText } from './interpolate';
import { ShellScanner } from './shell-scanner';
import type { RefStyle, ShellContext } from './shell-frames';
import { splitTemplate } from './template';

export type { ShellContext } from './shell-frames';

export interface ScriptBinding {
  /** Environment variable the runtime sets to the expression's value. */
  name: string;
  /** The expression, without `${{ }}`. */
  expression: string;
  /** Where in the script it was: decides how it is quoted, and what values are safe. */
  context: ShellContext;
}

export interface RewrittenScript {
  script: string;
  bindings: ScriptBinding[];
}

export const BINDING_PREFIX = 'ARCENTRA_EXPR_';

const REFERENCE: Record<RefStyle, (name: string) => string> = {
  quoted: (name) => `"\${${name}}"`,
  inner: (name) => `\${${name}}`,
  'break-single': (name) => `'"\${${name}}"'`,
  'break-ansi': (name) => `'"\${${name}}"$'`,
};

/** The script with its expressions replaced by environment references; throws ExpressionError on bad `${{`. */
export function rewriteRunScript(script: string): RewrittenScript {
  const split = splitTemplate(script);
  if (!split.ok) throw split.error;
  const scanner = new ShellScanner();
  const bindings: ScriptBinding[] = [];
  let out = '';
  for (const segment of split.segments) {
    if (segment.kind === 'text') {
      scanner.feed(segment.text);
      out += segment.text;
      continue;
    }
    const point = scanner.insertionPoint(bindings.length);
    const name = `${BINDING_PREFIX}${bindings.length}`;
    if (point.dollar) out = `${out.slice(0, -1)}\\$`;
    if (point.escaped) out += '\\';
    out += REFERENCE[point.style](name);
    bindings.push({ name, expression: segment.source.trim(), context: point.context });
  }
  for (const id of scanner.arithmeticIds()) bindings[id].context = 'arithmetic';
  return { script: out, bindings };
}

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * The environment for a rewritten script: each binding's value as text. A value bound in
 * arithmetic must be a plain number, since bash would evaluate anything else as code.
 */
export function bindingEnvironment(bindings: readonly ScriptBinding[], ctx: ExpressionContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const binding of bindings) {
    const value = evaluateToText(binding.expression, ctx);
    if (binding.context === 'arithmetic' && !PLAIN_NUMBER.test(value.trim())) {
      throw new ExpressionError(`\${{ ${binding.expression} }} is used in shell arithmetic, where only a number is safe; its value is not a number`, 0);
    }
    env[binding.name] = value;
  }
  return env;
}
