// Durations as users write them ("90s", "1h30m", "500ms") and as Temporal wants them (milliseconds).
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:(\d+)(ms|s|m|h|d))+$/;

/** Parses "1h30m" into milliseconds; returns null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) return null;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * UNIT_MS[unit];
  return total;
}

export function requireDuration(text: string, what: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new Error(`${what}: "${text}" is not a duration (use e.g. 90s, 1h30m)`);
  return ms;
}
