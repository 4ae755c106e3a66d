// Turns a compiled step into what the agent runs: `when` decided, env and args interpolated, and every
// `${{ }}` in a run script replaced by an environment variable reference, so values never become code.
import type { CompiledStep } from '../src/spec/model';
import { bindingEnvironment, evaluateCondition, interpolate, rewriteRunScript } from '../src/spec/expressions';
import type { ExpressionContext } from '../src/spec/expressions';

export type PreparedStep =
  | { kind: 'skip' }
  | { kind: 'error'; message: string }
  | { kind: 'run'; step: CompiledStep; env: Record<string, string> };

/** Interpolates env layers in order; each layer may read the variables of the layers before it. */
export function resolveEnv(layers: Array<Record<string, string>>, contextFor: (env: Record<string, string>) => ExpressionContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const layer of layers) for (const [key, value] of Object.entries(layer)) env[key] = interpolate(value, contextFor(env));
  return env;
}

export function shouldRun(when: string, ctx: ExpressionContext): boolean {
  return evaluateCondition(when, ctx);
}

export function prepareStep(step: CompiledStep, jobEnv: Record<string, string>, contextFor: (env: Record<string, string>) => ExpressionContext): PreparedStep {
  try {
    const baseCtx = contextFor(jobEnv);
    // Without a status function, `when` means success() && (…): a step after a failure is skipped.
    if (!evaluateCondition(step.when ?? 'success()', baseCtx)) return { kind: 'skip' };
    const env: Record<string, string> = { ...jobEnv };
    for (const [key, value] of Object.entries(step.env)) env[key] = interpolate(value, contextFor(env));
    const ctx = contextFor(env);
    const args = interpolateArgs(step.args, ctx);
    if (step.run === undefined) return { kind: 'run', step: { ...step, args }, env };
    const { script, bindings } = rewriteRunScript(step.run);
    // bindingEnvironment refuses anything but a number where bash would evaluate the value (arithmetic).
    Object.assign(env, bindingEnvironment(bindings, ctx));
    return { kind: 'run', step: { ...step, run: script, args }, env };
  } catch (err) {
    return { kind: 'error', message: `expression error: ${(err as Error).message}` };
  }
}

/** Every string inside args, at any depth, is interpolated; other values pass through. */
function interpolateArgs(args: Record<string, unknown>, ctx: ExpressionContext): Record<string, unknown> {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, ctx);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(args) as Record<string, unknown>;
}
