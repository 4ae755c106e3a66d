// Replaces known secret values by *** in every log line before it leaves the agent.
export interface SecretMasker {
  mask(text: string): string;
}

export function createSecretMasker(secrets: string[]): SecretMasker {
  // Longest first, so a secret containing another is masked whole; very short values would mask noise.
  const values = [...new Set(secrets.filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return { mask: (text) => text };
  return {
    mask(text) {
      let out = text;
      for (const value of values) if (out.includes(value)) out = out.split(value).join('***');
      return out;
    },
  };
}
