// Hard bounds of the expression engine: parsing and evaluation stay small and never hang.

export const EXPRESSION_LIMITS = {
  /** Characters of one expression (the text between `${{` and `}}`). */
  maxLength: 4096,
  /** Depth of the syntax tree, and of bracket/`!` nesting while parsing. */
  maxDepth: 64,
  /** UTF-8 bytes accepted by fromJSON(). */
  maxFromJsonBytes: 64 * 1024,
  /** Nesting of the value fromJSON() builds. */
  maxFromJsonDepth: 64,
  /** Characters of any string an expression produces. */
  maxStringLength: 1024 * 1024,
} as const;
