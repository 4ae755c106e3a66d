// Field spellings: camelCase is canonical; snake_case and a few historical aliases are accepted.

/** Extra spellings of a canonical key beyond its snake_case form. */
const EXTRA_ALIASES: Readonly<Record<string, readonly string[]>> = {
  needs: ['dependsOn', 'depends_on'],
};

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every accepted spelling of a canonical key, the canonical one first. */
export function spellingsOf(canonical: string): string[] {
  const out = [canonical];
  const snake = snakeCase(canonical);
  if (snake !== canonical) out.push(snake);
  for (const alias of EXTRA_ALIASES[canonical] ?? []) if (!out.includes(alias)) out.push(alias);
  return out;
}

/** The canonical key that `key` spells, among `allowed`; undefined when it spells none of them. */
export function canonicalKey(key: string, allowed: readonly string[]): string | undefined {
  if (allowed.includes(key)) return key;
  return allowed.find((candidate) => spellingsOf(candidate).includes(key));
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const RESERVED_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Edit distance counting a swap of two neighbouring letters as one edit (typos like `stpes`). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate to a misspelt name, when one is close enough to suggest. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase().replace(/[-_]/g, '');
    const score = c === lower ? 0 : editDistance(lower, c);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const tolerance = word.length <= 4 ? 1 : 2;
  return bestScore <= tolerance ? best : undefined;
}
