// Hard limits on what a spec may be. Exceeding one is a validation error, never a crash or a hang.

export const SPEC_LIMITS = {
  /** Largest spec text accepted, in UTF-8 bytes. */
  maxSourceBytes: 1024 * 1024,
  /** Deepest nesting of mappings and lists in the parsed value. */
  maxDepth: 64,
  /** Most mappings, lists and scalars in one spec. */
  maxNodes: 500_000,
  /** YAML aliases (`*name`) resolved while building the value: no alias bombs. */
  maxAliasCount: 100,
  /** Guard against parser stack exhaustion before YAML is parsed (columns of indentation, open brackets). */
  maxTextNesting: 200,
  /** Jobs in a pipeline, counting every matrix combination. */
  maxJobs: 500,
  maxStepsPerJob: 200,
  maxMatrixCombinations: 256,
  /** `${{ … }}` expressions in one spec (each is parsed and checked). */
  maxExpressions: 5_000,
  /** Errors reported at most; the rest are summarised in one last issue. */
  maxIssues: 100,
} as const;
