// Here-document operators in bash: `<<WORD`, `<<-WORD`, `<<'WORD'`, `<<"WORD"`, `<<\WORD`.

export interface HeredocStart {
  delimiter: string;
  /** Any quoting in the word: the body is then taken literally (no expansions). */
  quoted: boolean;
  /** `<<-`: leading tabs are stripped from body lines and the delimiter line. */
  stripTabs: boolean;
  /** Offset just after the operator and its word. */
  end: number;
}

const WORD_END = /[\s;&|()<>]/;

/** The heredoc whose `<<` is at `at`, or undefined when there is none (`<<<`, or no word). */
export function readHeredocStart(text: string, at: number): HeredocStart | undefined {
  if (text[at] !== '<' || text[at + 1] !== '<' || text[at + 2] === '<') return undefined;
  let i = at + 2;
  const stripTabs = text[i] === '-';
  if (stripTabs) i++;
  while (text[i] === ' ' || text[i] === '\t') i++;
  let delimiter = '';
  let quoted = false;
  while (i < text.length && !WORD_END.test(text[i])) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0) return undefined;
      delimiter += text.slice(i + 1, close);
      quoted = true;
      i = close + 1;
    } else if (c === '\\') {
      delimiter += text[i + 1] ?? '';
      quoted = true;
      i += 2;
    } else {
      delimiter += c;
      i++;
    }
  }
  return delimiter === '' ? undefined : { delimiter, quoted, stripTabs, end: i };
}

/** True when a body line ends the heredoc. */
export function endsHeredoc(line: string, heredoc: Pick<HeredocStart, 'delimiter' | 'stripTabs'>): boolean {
  return (heredoc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.delimiter;
}
