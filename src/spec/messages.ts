// valibot issues → SpecIssues a person can act on: the field, and what is wrong with it.
import type * as v from 'valibot';
import { canonicalKey, didYouMean, spellingsOf } from './keys';
import { describeValue, subjectOf } from './issues';
import type { IssueCollector, PathSeg } from './issues';
import { keyInfoOf } from './schema-kit';

type Issue = v.BaseIssue<unknown>;

export function reportSchemaIssues(issues: readonly Issue[], collector: IssueCollector): void {
  for (const issue of issues) {
    const path: PathSeg[] = (issue.path ?? []).map((item) => (typeof item.key === 'number' ? item.key : String(item.key)));
    collector.error(path, messageFor(issue, path, collector.originalPath(path)));
  }
}

function messageFor(issue: Issue, path: readonly PathSeg[], original: readonly PathSeg[]): string {
  const last = issue.path?.[issue.path.length - 1];
  const key = path[path.length - 1];
  if (issue.type === 'never' && last && typeof key === 'string') return unknownKeyMessage(key, last.input);
  // A value of `undefined` cannot come from YAML or JSON: the field is absent.
  if (issue.kind === 'schema' && issue.input === undefined && typeof key === 'string') return `missing required field '${key}'`;
  const message = issue.message.startsWith('Invalid ') ? `must be ${expectedText(issue.expected)}, got ${describeValue(issue.input)}` : issue.message;
  if (!/^(must|is) /.test(message)) return message;
  const subject = last?.origin === 'key' ? `the key '${String(key)}'` : subjectOf(original);
  return `${subject} ${message}`;
}

function unknownKeyMessage(key: string, parent: unknown): string {
  const info = keyInfoOf(parent);
  if (!info) return `unknown field '${key}'`;
  const canonical = canonicalKey(key, info.allowed);
  if (canonical !== undefined) {
    const spellings = spellingsOf(canonical).map((s) => `'${s}'`).join(', ');
    return `'${key}' repeats a field that is already given (${spellings} are the same field); keep only one`;
  }
  const suggestion = didYouMean(key, info.allowed.flatMap((k) => spellingsOf(k)));
  const hint = suggestion ? `; did you mean '${suggestion}'?` : info.allowed.length > 0 ? `; known fields: ${info.allowed.join(', ')}` : '';
  return `unknown field '${key}' in ${info.label}${hint}`;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  Object: 'a mapping',
  Array: 'a list',
  never: 'absent',
};

function expectedText(expected: string | null): string {
  if (!expected) return 'something else';
  const parts = expected.split(' | ').map((part) => EXPECTED[part] ?? part.replace(/^"(.*)"$/, '$1'));
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}
