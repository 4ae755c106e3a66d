// Cheap linear checks on spec text that run before any parser sees it, so that hostile input
// (huge, or nested deep enough to exhaust a recursive parser) becomes an error rather than a crash.
import { SPEC_LIMITS } from './limits';
import type { SpecIssue } from './model';

/** Length of `text` in UTF-8 bytes, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function checkTextSize(text: string): SpecIssue | undefined {
  const max = SPEC_LIMITS.maxSourceBytes;
  if (text.length <= max / 4 || (text.length <= max && utf8Length(text) <= max)) return undefined;
  return { path: '', message: `the spec is larger than ${max} bytes (1 MiB); split it or move scripts into files` };
}

/**
 * Refuses text that nests deeper than any real spec: lines whose indentation (counting YAML's
 * `- `, `? ` and `: ` indicators) exceeds the limit, or too many unclosed `[`/`{` brackets.
 */
export function checkTextNesting(text: string): SpecIssue | undefined {
  const max = SPEC_LIMITS.maxTextNesting;
  let line = 1;
  let lineStart = 0;
  let inPrefix = true;
  let brackets = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      inPrefix = true;
      continue;
    }
    if (inPrefix) {
      const next = text[i + 1];
      const indicator = (c === '-' || c === '?' || c === ':') && (next === ' ' || next === '\t' || next === '\n' || next === undefined);
      if (c !== ' ' && c !== '\t' && !indicator) inPrefix = false;
      else if (i - lineStart >= max) return tooDeep(line, i - lineStart + 1);
    }
    if (c === '[' || c === '{') {
      if (++brackets > max) return tooDeep(line, i - lineStart + 1);
    } else if ((c === ']' || c === '}') && brackets > 0) brackets--;
  }
  return undefined;
}

function tooDeep(line: number, column: number): SpecIssue {
  return {
    path: '',
    message: `the spec nests too deeply here (more than ${SPEC_LIMITS.maxTextNesting} levels of indentation or brackets)`,
    line,
    column,
  };
}
