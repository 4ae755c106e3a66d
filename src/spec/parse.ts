// Spec text (YAML or JSON) or an already-structured value → a plain value plus a way to find
// where any path of it was written. No I/O; every failure is an issue, never an exception.
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import type { SpecIssue } from './model';
import { SPEC_LIMITS } from './limits';
import { formatPath } from './issues';
import type { Locate, PathSeg, Position } from './issues';
import { checkStructure } from './structure';
import { checkTextNesting, checkTextSize } from './text-guards';

export type SpecFormat = 'yaml' | 'yml' | 'json';

/** A scalar value as written in the spec text. */
export interface ValueSource {
  /** The value's source text, quotes and block indicators included. */
  text: string;
  /** Line and column of `text[index]`. */
  at(index: number): Position;
}

export type LocateValue = (path: readonly PathSeg[]) => ValueSource | undefined;

export interface ParsedSpecSource {
  /** The parsed value; undefined when the text could not be parsed at all. */
  value: unknown;
  /** Where a path (in the source's own key spellings) was written; undefined for structured input. */
  locate: Locate;
  /** The source of the scalar at exactly this path, when the spec came as text. */
  locateValue?: LocateValue;
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

/** yaml's wording where it speaks to programmers rather than to spec authors. */
const YAML_MESSAGES: Partial<Record<string, string>> = {
  MULTIPLE_DOCS: 'the spec must be a single YAML document, but this text has several (separated by ---)',
  DUPLICATE_KEY: 'this key appears twice in the same mapping; each key may be given only once',
};

const nowhere: Locate = () => undefined;

export function parseSpecSource(input: unknown, format?: SpecFormat): ParsedSpecSource {
  if (typeof input !== 'string') return withStructureChecks({ value: input, locate: nowhere, errors: [], warnings: [] });
  const guard = checkTextSize(input) ?? checkTextNesting(input);
  if (guard) return { value: undefined, locate: nowhere, errors: [guard], warnings: [] };
  const parsed = format === 'json' ? parseJsonText(input) : parseYamlText(input);
  if (parsed.errors.length === 0 && (parsed.value === null || parsed.value === undefined)) {
    parsed.errors.push({ path: '', message: 'the spec is empty; it needs at least namespace, version and jobs or stages', line: 1, column: 1 });
  }
  return parsed.errors.length > 0 ? parsed : withStructureChecks(parsed);
}

function withStructureChecks(parsed: ParsedSpecSource): ParsedSpecSource {
  for (const { path, message } of checkStructure(parsed.value)) parsed.errors.push(issueAt(parsed.locate, path, message));
  return parsed;
}

function issueAt(locate: Locate, path: readonly PathSeg[], message: string): SpecIssue {
  const issue: SpecIssue = { path: formatPath(path), message };
  const pos = locate(path);
  if (pos) Object.assign(issue, { line: pos.line, column: pos.column });
  return issue;
}

/** A parsed YAML document and the line and column of any offset of its text. */
interface YamlSource {
  doc: Document;
  text: string;
  at(offset: number): Position;
}

function yamlSource(text: string, options: { uniqueKeys: boolean; stringKeys?: boolean }): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, ...options });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return { doc, text, at };
}

function parseYamlText(text: string): ParsedSpecSource {
  const yaml = yamlSource(text, { uniqueKeys: true, stringKeys: true });
  const { doc, at } = yaml;
  const source = () => yaml;
  const errors: SpecIssue[] = doc.errors.map((err) => ({ path: '', message: `YAML syntax error: ${YAML_MESSAGES[err.code] ?? err.message}`, ...at(err.pos[0]) }));
  const warnings: SpecIssue[] = doc.warnings.map((w) => ({ path: '', message: `YAML: ${w.message}`, ...at(w.pos[0]) }));
  const locate = locator(source);
  if (errors.length > 0) return { value: undefined, locate, errors, warnings };
  try {
    return { value: doc.toJS({ maxAliasCount: SPEC_LIMITS.maxAliasCount }), locate, locateValue: valueLocator(source), errors, warnings };
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const message = /alias count/i.test(text)
      ? `the spec expands YAML aliases too often (more than ${SPEC_LIMITS.maxAliasCount}); write the values out instead`
      : `YAML error: ${text}`;
    return { value: undefined, locate, errors: [{ path: '', message }], warnings };
  }
}

function parseJsonText(text: string): ParsedSpecSource {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { value: undefined, locate: nowhere, errors: [{ path: '', message: `JSON syntax error: ${message}`, ...jsonErrorPosition(source, message) }], warnings: [] };
  }
  // JSON is YAML: the text is parsed as YAML only to find where a path was written, and only
  // once an issue needs that (most specs have none).
  let yaml: YamlSource | undefined;
  const located = () => (yaml ??= yamlSource(source, { uniqueKeys: false }));
  return { value, locate: locator(located), locateValue: valueLocator(located), errors: [], warnings: [] };
}

function jsonErrorPosition(text: string, message: string): Position {
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) return { line: Number(lineCol[1]), column: Number(lineCol[2]) };
  const pos = /position (\d+)/.exec(message);
  const offset = pos ? Math.min(Number(pos[1]), text.length) : text.length;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Finds a path in the YAML document: a mapping key's position for a path ending in a key, an
 * item's position for one ending in an index; the deepest existing ancestor when the path runs out.
 */
function locator(source: () => YamlSource): Locate {
  return (path) => {
    const { doc, at } = source();
    let node: unknown = doc.contents;
    let offset = rangeStart(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = rangeStart(pair.key) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (!item) break;
        offset = rangeStart(item) ?? offset;
        node = item;
      } else break;
    }
    return offset === undefined ? undefined : at(offset);
  };
}

/** The scalar node at exactly `path`, with its source text; undefined for anything else. */
function valueLocator(source: () => YamlSource): LocateValue {
  return (path) => {
    const { doc, text, at } = source();
    let node: unknown = doc.contents;
    for (const seg of path) {
      if (isMap(node)) node = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))?.value;
      else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
      else return undefined;
    }
    const range = isScalar(node) ? node.range : undefined;
    if (!range) return undefined;
    const [start, end] = range;
    return { text: text.slice(start, end), at: (index) => at(start + index) };
  };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}
