// The one error type of the expression engine: what is wrong, and where in the expression text.

export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';

  constructor(
    message: string,
    /** Offset (in UTF-16 units) into the text that was parsed or evaluated. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Any thrown value as an ExpressionError: engine errors pass through, anything else is wrapped. */
export function asExpressionError(err: unknown, offset: number): ExpressionError {
  if (err instanceof ExpressionError) return err;
  if (err instanceof RangeError) return new ExpressionError('the expression is too large or too deeply nested to evaluate', offset);
  return new ExpressionError(`the expression could not be evaluated: ${err instanceof Error ? err.message : String(err)}`, offset);
}
