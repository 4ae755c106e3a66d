// The expression engine of `${{ … }}`: our own lexer, parser and evaluator (never JavaScript
// eval), GitHub Actions semantics. Pure: no I/O, no clock, no randomness.
export type { ExpressionNode, Literal, CompareOp, LogicalOp } from './ast';
export type { ExpressionContext, TriggerContext, PipelineContext, StepContext } from './context';
export { CONTEXT_NAMES, TRIGGER_PROPERTIES, PIPELINE_PROPERTIES, emptyContext } from './context';
export { ExpressionError } from './errors';
export { evaluate } from './evaluator';
export type { StatusFlags } from './functions';
export { FUNCTION_NAMES } from './functions';
export { interpolate, evaluateCondition, evaluateToText, parseCondition, conditionSource, usesStatusFunction } from './interpolate';
export type { ConditionSource, ParsedCondition } from './interpolate';
export { EXPRESSION_LIMITS } from './limits';
export { parseExpression } from './parser';
export type { ParseResult } from './parser';
export { rewriteRunScript, bindingEnvironment, BINDING_PREFIX } from './shell-rewrite';
export type { RewrittenScript, ScriptBinding, ShellContext } from './shell-rewrite';
export { checkExpression } from './static-check';
export type { ExpressionProblem, ExpressionScope } from './static-check';
export { splitTemplate, hasExpression } from './template';
export type { TemplateSegment, TemplateResult } from './template';
